using Berth.Daemon.Tests.Infrastructure;
using Berth.Images.Tests;
using Berth.Registry.Tests.Infrastructure;
using DaemonTools = Berth.Daemon.Tests.Infrastructure.Tools;

namespace Berth.DotNetClients.Tests.Infrastructure;

/// <summary>
/// A berthd (its in-process exec driver; no bridge network, so NetworkMode "default" is loopback only) and a docker-registry on 127.0.0.1 holding
/// <see cref="Reference"/>: a one-layer image of the host's busybox-static, built here as a docker save archive,
/// loaded into berthd, pushed to the registry and removed again, so that a client that runs it makes berthd pull it.
/// Shared by the .NET client suites (Testcontainers here, Docker.DotNet in Berth.Clients.Tests: the two ship an
/// assembly of the same name, Docker.DotNet.dll, in different versions, so they cannot share a test project).
/// </summary>
public sealed class BerthdWithRegistryImage : IDisposable
{
    const string Repository = "dotnet-clients/busybox", Tag = "1";
    readonly Lazy<(DaemonInstance Daemon, RegistryProcess Registry)> _started;

    public BerthdWithRegistryImage() => _started = new(Start);

    public DaemonInstance Daemon => _started.Value.Daemon;
    public RegistryProcess Registry => _started.Value.Registry;

    /// <summary>The image in the registry, as a client names it.</summary>
    public string Reference => $"{Registry.Domain}/{Repository}:{Tag}";

    /// <summary>berthd's socket as the clients' endpoint URI.</summary>
    public Uri Endpoint => new(Daemon.Host);

    static (DaemonInstance, RegistryProcess) Start()
    {
        Skip.IfNot(DaemonTools.IsRoot, "berthd runs containers as root only (integration section of scripts/test.sh)");
        Skip.IfNot(File.Exists("/bin/busybox"), "busybox-static is not installed (apt-get install busybox-static; scripts/test.sh does)");
        var registry = new RegistryProcess();
        var daemon = DaemonInstance.Start();
        try
        {
            string reference = $"{registry.Domain}/{Repository}:{Tag}";
            var archive = new SaveArchiveBuilder();
            archive.Image([reference], [BusyboxLayer.Tar()], cmd: "sh");
            string file = Path.Combine(daemon.Root, "image.tar");
            File.WriteAllBytes(file, archive.Build());
            DockerCli.Ok(DockerCli.Docker(daemon, "load", "-i", file));
            DockerCli.Ok(DockerCli.Docker(daemon, "push", reference));
            DockerCli.Ok(DockerCli.Docker(daemon, "rmi", reference));
            return (daemon, registry);
        }
        catch
        {
            daemon.Dispose();
            registry.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Nothing of container <paramref name="id"/> is left: berthd does not list it, and no directory, mount, runtime
    /// state, cgroup or monitor process of it remains (the daemon tests' <see cref="ContainerLeaks"/>).
    /// </summary>
    public void AssertNothingLeft(string id)
    {
        var listed = DaemonTools.Curl(Daemon.Socket, "http://berthd/containers/json?all=1");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.DoesNotContain(id, listed.Stdout);
        ContainerLeaks.AssertNothingLeft(Daemon, id);
    }

    public void Dispose()
    {
        if (!_started.IsValueCreated) return;
        _started.Value.Daemon.Dispose();
        _started.Value.Registry.Dispose();
    }
}
