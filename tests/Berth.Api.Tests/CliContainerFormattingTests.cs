using System.CommandLine;
using System.Text.Json;
using Berth.Api;
using Berth.Cli;
using Berth.Cli.Commands;

namespace Berth.Api.Tests;

public class GoTemplateTests
{
    static readonly JsonElement Inspect = JsonDocument.Parse(
        """{"Id":"abc","Name":"/web","State":{"Status":"exited","ExitCode":7},"Config":{"Env":["A=1","B=2"],"Labels":{"k":"v"},"Entrypoint":null}}""").RootElement;

    [Theory]
    [InlineData("{{.State.ExitCode}}", "7")]
    [InlineData("{{.Id}} {{.Name}}", "abc /web")]
    [InlineData("{{json .Config.Labels}}", """{"k":"v"}""")]
    [InlineData("{{.Config.Env}}", "[A=1 B=2]")]
    [InlineData("{{join .Config.Env \",\"}}", "A=1,B=2")]
    [InlineData("{{index .Config.Labels \"k\"}}", "v")]
    [InlineData("{{.State.Status | upper}}", "EXITED")]
    [InlineData("{{json .Config.Entrypoint}}", "null")]
    [InlineData("{{.Config.Labels}}", "map[k:v]")]
    [InlineData("{{.state.exitcode}}", "7")]
    public void Renders_the_docker_subset(string template, string expected) =>
        Assert.Equal(expected, GoTemplate.Parse(template).Execute(Inspect));

    [Theory]
    [InlineData("{{.Nope}}", "Nope")]
    [InlineData("{{if .Id}}x{{end}}", "\"if\" is not supported")]
    [InlineData("{{.Id", "unclosed action")]
    [InlineData("{{frob .Id}}", "function \"frob\" not defined")]
    public void Refuses_what_it_cannot_do_with_a_sentence(string template, string expected)
    {
        var e = Assert.Throws<FormatException>(() => GoTemplate.Parse(template).Execute(Inspect));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_table_format_gets_docker_headers_and_minimum_widths()
    {
        var output = new FormattedOutput("table {{.ID}}\\t{{.Status}}", "", PsCommand.HeaderOf);
        var row = FormattedOutput.Object(new Dictionary<string, object?> { ["ID"] = "abc", ["Status"] = "Up 3 seconds" });
        Assert.Equal("CONTAINER ID   STATUS\nabc            Up 3 seconds\n", output.Render([row]));
    }
}

public class PsFieldsTests
{
    [Fact]
    public void Fields_are_truncated_and_quoted_as_docker_prints_them()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var summary = new ContainerSummary
        {
            Id = new string('a', 64), Names = ["/web"], Image = "sha256:" + new string('b', 64), Command = "sh -c 'echo a very long command line'",
            Created = now.ToUnixTimeSeconds() - 3, State = "running", Status = "Up 3 seconds",
            Labels = new() { ["z"] = "1", ["a"] = "2" },
        };
        var fields = PsCommand.Fields(summary, trunc: true, now);
        Assert.Equal("aaaaaaaaaaaa", fields.GetProperty("ID").GetString());
        Assert.Equal("bbbbbbbbbbbb", fields.GetProperty("Image").GetString());
        Assert.Equal("\"sh -c 'echo a very …\"", fields.GetProperty("Command").GetString());
        Assert.Equal("3 seconds ago", fields.GetProperty("RunningFor").GetString());
        Assert.Equal("a=2,z=1", fields.GetProperty("Labels").GetString());
        Assert.Equal("web", fields.GetProperty("Names").GetString());
    }
}

public class StatsRowTests
{
    [Fact]
    public void Cpu_and_memory_are_computed_as_the_docker_cli_does()
    {
        var sample = new ContainerStatsResponse
        {
            Id = new string('c', 64), Name = "/box",
            CpuStats = new ContainerCpuStats { CpuUsage = new ContainerCpuUsage { TotalUsage = 3_000_000 }, SystemCpuUsage = 20_000_000, OnlineCpus = 2 },
            PreCpuStats = new ContainerCpuStats { CpuUsage = new ContainerCpuUsage { TotalUsage = 1_000_000 }, SystemCpuUsage = 10_000_000, OnlineCpus = 2 },
            MemoryStats = new ContainerMemoryStats { Usage = 10 << 20, Limit = 100 << 20, Stats = new() { ["total_inactive_file"] = 5 << 20 } },
            PidsStats = new ContainerPidsStats { Current = 3 },
            Networks = new() { ["eth0"] = new ContainerNetworkStats { RxBytes = 1500, TxBytes = 0 } },
        };
        var row = MonitoringCommands.StatsRow(sample, "box", trunc: true);
        // (2 ms of CPU / 10 ms of system) × 2 CPUs = 40 %; 10 MiB used − 5 MiB inactive file = 5 MiB of 100 MiB.
        Assert.Equal("40.00%", row.GetProperty("CPUPerc").GetString());
        Assert.Equal("5MiB / 100MiB", row.GetProperty("MemUsage").GetString());
        Assert.Equal("5.00%", row.GetProperty("MemPerc").GetString());
        Assert.Equal("1.5kB / 0B", row.GetProperty("NetIO").GetString());
        Assert.Equal("3", row.GetProperty("PIDs").GetString());
        Assert.Equal("box", row.GetProperty("Name").GetString());
        Assert.Equal("cccccccccccc", row.GetProperty("ID").GetString());
    }
}

public class RunArgumentsTests
{
    static RootCommand Root()
    {
        var globals = new CliGlobals();
        var root = new RootCommand { globals.Host };
        root.Subcommands.Add(RunCommand.BuildRun(globals));
        root.Subcommands.Add(ExecLogsCommands.Exec(globals));
        return root;
    }

    [Theory]
    [InlineData("run --rm busybox sh -c x", "run --rm busybox -- sh -c x")]
    [InlineData("-H unix:///s run -it -e A=1 --name n busybox ls -l", "-H unix:///s run -it -e A=1 --name n busybox -- ls -l")]
    [InlineData("run -d busybox", "run -d busybox")]
    [InlineData("run --env=A=1 busybox -x", "run --env=A=1 busybox -- -x")]
    [InlineData("exec -u 0 box sh -c x", "exec -u 0 box -- sh -c x")]
    // After IMAGE, docker passes "--" on to the container as its command (pflag without interspersed flags).
    [InlineData("run busybox -- x", "run busybox -- -- x")]
    public void The_containers_command_keeps_its_flags(string given, string expected) =>
        Assert.Equal(expected, string.Join(' ', InterspersedArguments.Separate(given.Split(' '), Root())));

    [Fact]
    public void Run_flags_make_docker_create_body()
    {
        var root = Root();
        var parse = root.Parse(InterspersedArguments.Separate(
            ["run", "-m", "64m", "--cpus", "0.5", "-e", "A=1", "-l", "a=b", "--restart", "on-failure:3", "--ulimit", "nofile=100:200",
             "--tmpfs", "/t:size=1m", "--health-cmd", "true", "--health-interval", "1m30s", "-h", "hh", "--init", "busybox", "sh"], root));
        Assert.Empty(parse.Errors);
        var flags = new ContainerFlags();
        var command = new Command("run");
        flags.AddTo(command);
        var own = new RootCommand { command };
        var body = flags.Build(own.Parse(["run", "-m", "64m", "--cpus", "0.5", "-e", "A=1", "-l", "a=b", "--restart", "on-failure:3", "--ulimit", "nofile=100:200",
            "--tmpfs", "/t:size=1m", "--health-cmd", "true", "--health-interval", "1m30s", "-h", "hh", "--init", "busybox", "--", "sh"]));
        Assert.Equal(64L << 20, body.HostConfig!.Memory);
        Assert.Equal(500_000_000, body.HostConfig.NanoCpus);
        Assert.Equal(["A=1"], body.Env!);
        Assert.Equal("b", body.Labels!["a"]);
        Assert.Equal("on-failure", body.HostConfig.RestartPolicy.Name);
        Assert.Equal(3, body.HostConfig.RestartPolicy.MaximumRetryCount);
        Assert.Equal(200, body.HostConfig.Ulimits![0].Hard);
        Assert.Equal("size=1m", body.HostConfig.Tmpfs!["/t"]);
        Assert.Equal(["CMD-SHELL", "true"], body.Healthcheck!.Test!);
        Assert.Equal(90_000_000_000, body.Healthcheck.Interval);
        Assert.Equal("hh", body.Hostname);
        Assert.True(body.HostConfig.Init);
        Assert.Equal(["sh"], body.Cmd!);
        Assert.Equal("default", body.HostConfig.NetworkMode);
    }

    [Theory]
    [InlineData("exec: \"nosuchcmd\": executable file not found in $PATH: unknown", 127)]
    [InlineData("exec: \"/etc/passwd\": permission denied: unknown", 126)]
    [InlineData("cgroup setup failed", 125)]
    public void Start_failures_map_to_dockers_exit_codes(string message, int code) =>
        Assert.Equal(code, RunCommand.StartFailureCode(message));
}
