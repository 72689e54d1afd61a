using Berth.DotNetClients.Tests.Infrastructure;
using Docker.DotNet;
using Docker.DotNet.Models;
using Xunit.Abstractions;

namespace Berth.Clients.Tests;

/// <summary>
/// Docker.DotNet 3.125 (the original .NET SDK) against berthd: pull from the test's loopback registry, list with
/// filters, inspect (the fields the SDK deserialises), logs through its multiplexed stream (follow), stats one-shot
/// and streamed, wait and remove, with nothing left afterwards.
/// </summary>
public sealed class DockerDotNetTests(BerthdWithRegistryImage fixture, ITestOutputHelper output) : IClassFixture<BerthdWithRegistryImage>, IDisposable
{
    readonly Lazy<DockerClient> _client = new(() => new DockerClientConfiguration(fixture.Endpoint).CreateClient());
    readonly List<string> _created = [];
    readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    DockerClient Client => _client.Value;
    CancellationToken Bound => _timeout.Token;

    static string Name(string what) => $"ddn-{what}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Pulls the registry image (once per daemon: a second pull finds it present) through the SDK.</summary>
    async Task PullAsync()
    {
        int slash = fixture.Reference.LastIndexOf(':');
        var messages = new List<string>();
        await Client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = fixture.Reference[..slash], Tag = fixture.Reference[(slash + 1)..] },
            null, new SyncProgress<JSONMessage>(m => { lock (messages) messages.Add(m.Status ?? m.ErrorMessage ?? ""); }), Bound);
        output.WriteLine("pull: " + string.Join(" | ", messages));
        Assert.Contains(messages, m => m.StartsWith("Status: ", StringComparison.Ordinal));
    }

    async Task<string> CreateAsync(string name, string script, IDictionary<string, string>? labels = null)
    {
        var created = await Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = name,
            Image = fixture.Reference,
            Entrypoint = ["sh", "-c"],
            Cmd = [script],
            Labels = labels ?? new Dictionary<string, string>(),
            HostConfig = new HostConfig { NetworkMode = "none" },
        }, Bound);
        _created.Add(created.ID);
        Assert.Matches("^[0-9a-f]{64}$", created.ID);
        return created.ID;
    }

    async Task<string> RunAsync(string name, string script, IDictionary<string, string>? labels = null)
    {
        string id = await CreateAsync(name, script, labels);
        Assert.True(await Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), Bound));
        return id;
    }

    [SkippableFact]
    public async Task Lists_with_filters_and_inspects()
    {
        await PullAsync();
        string label = Guid.NewGuid().ToString("N")[..12];
        var labels = new Dictionary<string, string> { ["berth.test"] = label };
        string runningName = Name("list-run"), createdName = Name("list-created");
        string running = await RunAsync(runningName, "trap 'exit 0' TERM; while true; do sleep 1; done", labels);
        string created = await CreateAsync(createdName, "true", labels);

        IDictionary<string, IDictionary<string, bool>> Filter(params (string Key, string Value)[] filters) =>
            filters.GroupBy(f => f.Key).ToDictionary(g => g.Key, g => (IDictionary<string, bool>)g.ToDictionary(f => f.Value, _ => true));
        var all = await Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Filter(("label", "berth.test=" + label)) }, Bound);
        Assert.Equal(new[] { created, running }.Order(StringComparer.Ordinal), all.Select(c => c.ID).Order(StringComparer.Ordinal));
        var onlyRunning = await Client.Containers.ListContainersAsync(new ContainersListParameters { Filters = Filter(("label", "berth.test=" + label)) }, Bound);
        var row = Assert.Single(onlyRunning);
        Assert.Equal((running, "/" + runningName, "running", fixture.Reference), (row.ID, Assert.Single(row.Names), row.State, row.Image));
        Assert.StartsWith("Up ", row.Status);
        Assert.Equal(label, row.Labels["berth.test"]);
        Assert.StartsWith("sha256:", row.ImageID);
        Assert.True(row.Created > DateTime.UtcNow.AddMinutes(-10), $"Created {row.Created:O}");
        var byStatus = await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true, Filters = Filter(("label", "berth.test=" + label), ("status", "created")),
        }, Bound);
        Assert.Equal(created, Assert.Single(byStatus).ID);
        var byName = await Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Filter(("name", createdName)) }, Bound);
        Assert.Equal(created, Assert.Single(byName).ID);

        var inspect = await Client.Containers.InspectContainerAsync(running, Bound);
        Assert.Equal((running, "/" + runningName, "sh", "running", true, false), (inspect.ID, inspect.Name, inspect.Path, inspect.State.Status, inspect.State.Running, inspect.State.Paused));
        Assert.Equal(["-c", "trap 'exit 0' TERM; while true; do sleep 1; done"], inspect.Args);
        Assert.True(inspect.State.Pid > 0, $"State.Pid {inspect.State.Pid}");
        Assert.True(DateTime.Parse(inspect.State.StartedAt).ToUniversalTime() > DateTime.UtcNow.AddMinutes(-10), $"State.StartedAt {inspect.State.StartedAt}");
        Assert.StartsWith("sha256:", inspect.Image);
        Assert.Equal((fixture.Reference, running[..12], label), (inspect.Config.Image, inspect.Config.Hostname, inspect.Config.Labels["berth.test"]));
        Assert.Equal(["sh", "-c"], inspect.Config.Entrypoint);
        Assert.Equal("none", inspect.HostConfig.NetworkMode);
        Assert.NotNull(inspect.Mounts);
        Assert.NotNull(inspect.NetworkSettings);
        Assert.True(File.Exists(inspect.LogPath), $"LogPath {inspect.LogPath}");

        var notStarted = await Client.Containers.InspectContainerAsync(created, Bound);
        Assert.Equal(("created", false, 0L), (notStarted.State.Status, notStarted.State.Running, notStarted.State.Pid));

        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => Client.Containers.InspectContainerAsync(Name("missing"), Bound));
    }

    [SkippableFact]
    public async Task Streams_logs_with_follow_through_the_multiplexed_reader()
    {
        await PullAsync();
        string id = await RunAsync(Name("logs"), "echo one; echo two >&2; sleep 2; echo three; echo four >&2");
        using var stream = await Client.Containers.GetContainerLogsAsync(id, false,
            new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true }, Bound);
        var frames = new List<string>();
        var buffer = new byte[4096];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, Bound);
            if (read.EOF) break;
            frames.Add($"{read.Target}:{System.Text.Encoding.UTF8.GetString(buffer, 0, read.Count)}");
        }
        // Each line is a frame of its own stream; follow ends when the container exits. Between the two streams the order
        // is that in which the monitor read its two pipes (dockerd's is as loose), so each stream is checked on its own.
        Assert.Equal(["StandardOut:one\n", "StandardOut:three\n"], frames.Where(f => f.StartsWith("StandardOut:", StringComparison.Ordinal)));
        Assert.Equal(["StandardError:two\n", "StandardError:four\n"], frames.Where(f => f.StartsWith("StandardError:", StringComparison.Ordinal)));
        Assert.Equal(4, frames.Count);
        Assert.Equal(0, (await Client.Containers.WaitContainerAsync(id, Bound)).StatusCode);

        using var again = await Client.Containers.GetContainerLogsAsync(id, false,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = "2", Timestamps = true }, Bound);
        var (stdout, stderr) = await again.ReadOutputToEndAsync(Bound);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z three\n$", stdout);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z four\n$", stderr);
    }

    /// <summary>
    /// A log with nothing in it yet is an empty chunked body, as dockerd (which flushes the headers first) answers: a
    /// bare Content-Length: 0 made the SDK's chunked reader fail ("Invalid chunk header encountered").
    /// </summary>
    [SkippableFact]
    public async Task Logs_of_a_container_that_wrote_nothing_are_empty()
    {
        await PullAsync();
        string id = await CreateAsync(Name("quiet"), "true");
        using var stream = await Client.Containers.GetContainerLogsAsync(id, false, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true }, Bound);
        Assert.Equal(("", ""), await stream.ReadOutputToEndAsync(Bound));
    }

    [SkippableFact]
    public async Task Gives_stats_one_shot_and_streamed()
    {
        await PullAsync();
        // Busy for a while (CPU time), with 8 MiB held in a shell variable (memory).
        string id = await RunAsync(Name("stats"),
            "x=$(head -c 8388608 /dev/zero | tr '\\0' x); i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo busy-done; trap 'exit 0' TERM; while true; do sleep 1; done");
        var once = new List<ContainerStatsResponse>();
        await Client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = false }, new SyncProgress<ContainerStatsResponse>(once.Add), Bound);
        var stats = Assert.Single(once);
        Assert.Equal(id, stats.ID);
        Assert.True(stats.Read > DateTime.UtcNow.AddMinutes(-10), $"Read {stats.Read:O}");
        Assert.True(stats.CPUStats.CPUUsage.TotalUsage > 0, "CPUStats.CPUUsage.TotalUsage is 0");
        Assert.True(stats.CPUStats.SystemUsage > 0, "CPUStats.SystemUsage is 0");
        Assert.True(stats.CPUStats.OnlineCPUs > 0, "CPUStats.OnlineCPUs is 0");
        Assert.True(stats.MemoryStats.Usage > 0, "MemoryStats.Usage is 0");
        Assert.True(stats.MemoryStats.Limit > 0, "MemoryStats.Limit is 0");
        Assert.True(stats.PidsStats.Current > 0, "PidsStats.Current is 0");

        var streamed = new List<ContainerStatsResponse>();
        using var enough = CancellationTokenSource.CreateLinkedTokenSource(Bound);
        var progress = new SyncProgress<ContainerStatsResponse>(s =>
        {
            lock (streamed)
            {
                streamed.Add(s);
                if (streamed.Count == 3) enough.Cancel();
            }
        });
        try
        {
            await Client.Containers.GetContainerStatsAsync(id, new ContainerStatsParameters { Stream = true }, progress, enough.Token);
        }
        catch (OperationCanceledException) when (!Bound.IsCancellationRequested)
        {
        }
        Assert.True(streamed.Count >= 3, $"{streamed.Count} streamed stats");
        // From the second on, PreCPUStats is the one before: docker's CPU % needs both.
        Assert.True(streamed[1].PreCPUStats.CPUUsage.TotalUsage > 0, "streamed PreCPUStats.CPUUsage.TotalUsage is 0");
        Assert.True(streamed[1].PreCPUStats.SystemUsage > 0, "streamed PreCPUStats.SystemUsage is 0");
        Assert.True(streamed[2].Read > streamed[1].Read, $"Read does not move on: {streamed[1].Read:O}, {streamed[2].Read:O}");
    }

    [SkippableFact]
    public async Task Execs_attached_and_lists_processes()
    {
        await PullAsync();
        string id = await RunAsync(Name("exec"), "trap 'exit 0' TERM; while true; do sleep 1; done");
        var exec = await Client.Exec.ExecCreateContainerAsync(id, new ContainerExecCreateParameters
        {
            Cmd = ["sh", "-c", "echo out; echo err >&2; cat; exit 6"], AttachStdin = true, AttachStdout = true, AttachStderr = true,
        }, Bound);
        using (var stream = await Client.Exec.StartAndAttachContainerExecAsync(exec.ID, false, Bound))
        {
            byte[] input = "from stdin\n"u8.ToArray();
            await stream.WriteAsync(input, 0, input.Length, Bound);
            stream.CloseWrite();
            Assert.Equal(("out\nfrom stdin\n", "err\n"), await stream.ReadOutputToEndAsync(Bound));
        }
        var inspect = await Client.Exec.InspectContainerExecAsync(exec.ID, Bound);
        Assert.Equal((false, 6L, id), (inspect.Running, inspect.ExitCode, inspect.ContainerID));

        var top = await Client.Containers.ListProcessesAsync(id, new ContainerListProcessesParameters(), Bound);
        Assert.Contains("PID", top.Titles);
        Assert.Contains("CMD", top.Titles);
        Assert.Contains(top.Processes, p => p[top.Titles.IndexOf("CMD")].StartsWith("sh -c", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Attaches_before_the_start_with_stdin()
    {
        await PullAsync();
        var created = await Client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = Name("attach"), Image = fixture.Reference, Entrypoint = ["sh", "-c"], Cmd = ["read line; echo got $line; echo err >&2; exit 2"],
            OpenStdin = true, StdinOnce = true, AttachStdin = true, AttachStdout = true, AttachStderr = true,
            HostConfig = new HostConfig { NetworkMode = "none" },
        }, Bound);
        _created.Add(created.ID);
        using var stream = await Client.Containers.AttachContainerAsync(created.ID, false,
            new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = true, Stderr = true }, Bound);
        Assert.True(await Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), Bound));
        byte[] input = "hello\n"u8.ToArray();
        await stream.WriteAsync(input, 0, input.Length, Bound);
        stream.CloseWrite();
        Assert.Equal(("got hello\n", "err\n"), await stream.ReadOutputToEndAsync(Bound));
        Assert.Equal(2, (await Client.Containers.WaitContainerAsync(created.ID, Bound)).StatusCode);
    }

    [SkippableFact]
    public async Task Waits_and_removes()
    {
        await PullAsync();
        string exits = await RunAsync(Name("wait"), "sleep 1; exit 4");
        Assert.Equal(4, (await Client.Containers.WaitContainerAsync(exits, Bound)).StatusCode);
        var exited = await Client.Containers.InspectContainerAsync(exits, Bound);
        Assert.Equal(("exited", 4L), (exited.State.Status, exited.State.ExitCode));
        await Client.Containers.RemoveContainerAsync(exits, new ContainerRemoveParameters(), Bound);
        fixture.AssertNothingLeft(exits);

        string running = await RunAsync(Name("rm-running"), "trap 'exit 0' TERM; while true; do sleep 1; done");
        var conflict = await Assert.ThrowsAsync<DockerApiException>(() => Client.Containers.RemoveContainerAsync(running, new ContainerRemoveParameters(), Bound));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.StatusCode);
        await Client.Containers.RemoveContainerAsync(running, new ContainerRemoveParameters { Force = true }, Bound);
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => Client.Containers.InspectContainerAsync(running, Bound));
        fixture.AssertNothingLeft(running);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            foreach (var id in _created)
            {
                try
                {
                    Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }).Wait(TimeSpan.FromMinutes(1));
                }
                catch (AggregateException e) when (e.InnerException is DockerContainerNotFoundException)
                {
                }
            }
            Client.Dispose();
        }
        _timeout.Dispose();
    }

    /// <summary>An IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, so a report could come late).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
