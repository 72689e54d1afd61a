using System.Text.Json;
using Berth.Api;

namespace Berth.Engine.Tests;

/// <summary>The machine the captures were made on, as Populate's inputs: dockerd's paths, the host, busybox, cs-default.</summary>
internal static class TestEnvironment
{
    public const string DataRoot = "<data-root>";
    public const string Kernel = "6.18.44-fc-v1272";

    public static string Resource(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Resources", .. parts]);

    /// <summary>busybox:latest as the captures ran it: PATH and Cmd ["sh"].</summary>
    public static ContainerConfig BusyboxImage => new()
    {
        Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd = ["sh"],
    };

    public static readonly IUserDatabase BusyboxUsers =
        new FixedUsers(File.ReadAllText(Resource("busybox-passwd")), File.ReadAllText(Resource("busybox-group")));

    /// <summary>What `docker run -d --network none busybox sleep 600` sends (docker 28 CLI), changed by <paramref name="flags"/>.</summary>
    public static ContainerCreateRequest CliRequest(Action<ContainerCreateRequest, HostConfig>? flags = null)
    {
        var request = JsonSerializer.Deserialize(File.ReadAllText(Resource("cli-run-d-network-none.json")), ApiJson.Context.ContainerCreateRequest)!;
        flags?.Invoke(request, request.HostConfig!);
        return request;
    }

    /// <summary>cs-default (a running private-IPC container) and cs-ipc-shareable, with their ids and init pids of the capture.</summary>
    public static readonly FixedContainers Containers = new(
        Joined("cs-default", "30bb22e1da16ee9f31ecd087b84618561b1ae3760e007deb29663a4781e54967", 29286, "private"),
        Joined("cs-ipc-shareable", "008a87f43f2bfa66131e639c8aa03f2f8466225e7d57d89e1fa3ff89c73bf7ec", 30501, "shareable"),
        Joined("cs-stopped", "999a6a440fa1196ff0d76b50397985ddffca04fd74a682016117ce04ded3250a", 0, "shareable"));

    public static EngineEnvironment Create(IHostDevices? devices = null, DaemonSettings? daemon = null) => new(
        daemon ?? new DaemonSettings { DataRoot = DataRoot },
        new HostFacts
        {
            Hostname = "vm",
            KernelRelease = Kernel,
            OnlineCpus = "0-1",
            ResolvConf = "nameserver 10.255.255.53\n",
            Hosts = "127.0.0.1 localhost\n127.0.0.1 vm\n",
        },
        devices ?? new FixedDevices([new HostDevice("/dev/null", 'c', 1, 3, 438 /* 0666 */, 0, 0)]),
        Containers);

    static (string Name, JoinedContainer Container) Joined(string name, string id, int pid, string ipcMode)
    {
        var dir = Path.Combine(DataRoot, "containers", id);
        return (name, new JoinedContainer
        {
            Id = id, Pid = pid, Hostname = id[..12], IpcMode = ipcMode,
            ShmPath = Populate.ShmPath(dir),
            ResolvConfPath = Path.Combine(dir, "resolv.conf"),
            HostnamePath = Path.Combine(dir, "hostname"),
            HostsPath = Path.Combine(dir, "hosts"),
        });
    }
}

internal sealed class FixedUsers(string? passwd, string? group) : IUserDatabase
{
    public string? ReadPasswd() => passwd;
    public string? ReadGroup() => group;
}

internal sealed class FixedDevices(IReadOnlyList<HostDevice> all) : IHostDevices
{
    public IReadOnlyList<HostDevice> At(string hostPath) =>
        [.. all.Where(d => d.Path == hostPath || d.Path.StartsWith(hostPath.TrimEnd('/') + "/", StringComparison.Ordinal))];

    public IReadOnlyList<HostDevice> All() => all;
}

/// <summary>Containers found by name, full id or id prefix, as the daemon's resolver finds them.</summary>
internal sealed class FixedContainers(params (string Name, JoinedContainer Container)[] containers) : IContainerResolver
{
    public JoinedContainer? Find(string reference) =>
        containers.FirstOrDefault(c => c.Name == reference || c.Container.Id.StartsWith(reference, StringComparison.Ordinal)).Container;
}
