using Berth.DotNetClients.Tests.Infrastructure;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using Xunit.Abstractions;

namespace Berth.DotNetClients.Tests;

/// <summary>
/// Testcontainers for .NET 4.17 (its Docker.DotNet.Enhanced client underneath) driving berthd as it drives dockerd:
/// the image is pulled from the test's loopback registry, the container started, waited for by a log line, exec'd in,
/// and disposed, after which nothing of it is left.
/// </summary>
public sealed class TestcontainersTests(BerthdWithRegistryImage fixture, ITestOutputHelper output) : IClassFixture<BerthdWithRegistryImage>
{
    static TestcontainersTests()
    {
        // Ryuk, Testcontainers' reaper, is a container of its own image (testcontainers/ryuk) that it would pull from Docker
        // Hub: not reachable here, so it is off (as TESTCONTAINERS_RYUK_DISABLED=true does) and each test disposes its own.
        TestcontainersSettings.ResourceReaperEnabled = false;
    }

    /// <summary>
    /// Runs <paramref name="script"/> (sh -c) in a container of the registry image on berthd, on loopback only (berthd has no
    /// bridge network yet), started once <paramref name="readyLine"/> is logged; <paramref name="check"/> gets it running,
    /// then it is disposed and nothing of it may be left.
    /// </summary>
    async Task RunAsync(string what, string script, string readyLine, Func<IContainer, CancellationToken, Task> check,
        Func<ContainerBuilder, ContainerBuilder>? configure = null)
    {
        var builder = new ContainerBuilder(fixture.Reference)
            .WithDockerEndpoint(fixture.Endpoint)
            .WithName($"tc-{what}-{Guid.NewGuid().ToString("N")[..10]}")
            .WithLabel("berth.test", "testcontainers")
            .WithCreateParameterModifier(parameters => (parameters.HostConfig ??= new HostConfig()).NetworkMode = "none")
            .WithEntrypoint("sh", "-c")
            .WithCommand(script)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged(readyLine));
        var container = (configure?.Invoke(builder) ?? builder).Build();
        string id;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await container.StartAsync(timeout.Token);
            id = container.Id;
            output.WriteLine($"started {container.Name} ({id})");
            await check(container, timeout.Token);
        }
        finally
        {
            await container.DisposeAsync();
        }
        fixture.AssertNothingLeft(id);
    }

    [SkippableFact]
    public Task Starts_waits_for_a_log_line_execs_and_disposes() => RunAsync("run",
        "echo booting; sleep 1; echo 'service ready' >&2; trap 'exit 0' TERM; while true; do sleep 1; done", "service ready",
        async (container, ct) =>
        {
            Assert.Equal(TestcontainersStates.Running, container.State);
            var exec = await container.ExecAsync(["sh", "-c", "echo out-$((6 * 7)); echo err >&2; id -u; exit 3"], ct);
            Assert.Equal((3L, "out-42\n0\n", "err\n"), (exec.ExitCode, exec.Stdout, exec.Stderr));
            var hostname = await container.ExecAsync(["cat", "/etc/hostname"], ct);
            Assert.Equal((0L, container.Id[..12] + "\n"), (hostname.ExitCode, hostname.Stdout));
            var (stdout, stderr) = await container.GetLogsAsync(timestampsEnabled: false, ct: ct);
            Assert.Equal(("booting\n", "service ready\n"), (stdout, stderr));
        });

    /// <summary>
    /// Testcontainers' file copy (PUT /containers/{id}/archive, and GET to read back): a resource mapped before the start
    /// (copied into the created container) and a file copied into and read from the running one.
    /// </summary>
    [SkippableFact]
    public Task Copies_files_into_and_out_of_the_container() => RunAsync("copy",
        "cat /etc/berth/mapped.txt; trap 'exit 0' TERM; while true; do sleep 1; done", "mapped before the start",
        async (container, ct) =>
        {
            await container.CopyAsync("copied while running\n"u8.ToArray(), "/tmp/copied.txt", ct: ct);
            var cat = await container.ExecAsync(["cat", "/tmp/copied.txt"], ct);
            Assert.Equal((0L, "copied while running\n"), (cat.ExitCode, cat.Stdout));
            Assert.Equal("mapped before the start\n"u8.ToArray(), await container.ReadFileAsync("/etc/berth/mapped.txt", ct));
        },
        builder => builder.WithResourceMapping("mapped before the start\n"u8.ToArray(), FilePath.Of("/etc/berth/mapped.txt")));

    /// <summary>
    /// The wait strategy polls the log before the container wrote anything: berthd's empty log must be a body the SDK
    /// reads (it was Content-Length: 0, and Docker.DotNet.Enhanced failed with "Invalid chunk header encountered").
    /// </summary>
    [SkippableFact]
    public Task Waits_through_an_empty_log_and_gives_the_exit_code() => RunAsync("exit", "sleep 2; echo ready; sleep 2; exit 5", "ready",
        async (container, ct) => Assert.Equal(5L, await container.GetExitCodeAsync(ct)));
}
