using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;

namespace Berth.Daemon.Tests;

/// <summary>The API of a running berthd as curl sees it, checked against the host with tools we did not write.</summary>
public class ApiOverSocketTests(SharedDaemon shared) : IClassFixture<SharedDaemon>
{
    DaemonInstance Daemon => shared.Daemon;

    static JsonElement Json(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    /// <summary>curl -i: (status code, headers lower-cased, body).</summary>
    static (int Status, Dictionary<string, string> Headers, string Body) Http(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        string text = result.Stdout.Replace("\r\n", "\n");
        int split = text.IndexOf("\n\n", StringComparison.Ordinal);
        string head = split < 0 ? text : text[..split], body = split < 0 ? "" : text[(split + 2)..];
        var lines = head.Split('\n');
        int status = int.Parse(lines[0].Split(' ')[1]);
        var headers = lines.Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].ToLowerInvariant(), l => l[(l.IndexOf(':') + 1)..].Trim());
        return (status, headers, body);
    }

    [SkippableFact]
    public void Head_ping_carries_the_headers_the_docker_cli_reads()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var (status, headers, body) = Http(Tools.Curl(Daemon.Socket, "-I", "http://berth/_ping"));
        Assert.Equal(200, status);
        Assert.Equal("1.41", headers["api-version"]);
        Assert.Equal("linux", headers["ostype"]);
        Assert.Equal("false", headers["docker-experimental"]);
        Assert.Equal("no-cache, no-store, must-revalidate", headers["cache-control"]);
        Assert.Equal("no-cache", headers["pragma"]);
        Assert.Equal("inactive", headers["swarm"]);
        Assert.Equal("1", headers["builder-version"]);
        Assert.Equal("0", headers["content-length"]);
        Assert.Equal("text/plain; charset=utf-8", headers["content-type"]);
        Assert.Equal("", body);
    }

    [SkippableFact]
    public void Get_ping_answers_OK()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var (status, headers, body) = Http(Tools.Curl(Daemon.Socket, "-i", "http://berth/_ping"));
        Assert.Equal(200, status);
        Assert.Equal("OK", body);
        Assert.Equal("1.41", headers["api-version"]);
    }

    [SkippableFact]
    public void Version_reports_real_values_on_versioned_and_plain_paths()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        foreach (string path in (string[])["/version", "/v1.41/version", "/v1.24/version"])
        {
            var v = Json(Tools.Curl(Daemon.Socket, "http://berth" + path));
            Assert.Equal("1.41", v.GetProperty("ApiVersion").GetString());
            Assert.Equal("1.24", v.GetProperty("MinAPIVersion").GetString());
            Assert.Equal("linux", v.GetProperty("Os").GetString());
            Assert.Equal(Tools.Run("uname", ["-r"]).Stdout.Trim(), v.GetProperty("KernelVersion").GetString());
            Assert.Equal(Tools.Run("uname", ["-m"]).Stdout.Trim() == "x86_64" ? "amd64" : "arm64", v.GetProperty("Arch").GetString());
            Assert.StartsWith(".NET ", v.GetProperty("GoVersion").GetString());
            Assert.Matches("^[0-9]+\\.[0-9]+\\.[0-9]+", v.GetProperty("Version").GetString());
            var engine = v.GetProperty("Components")[0];
            Assert.Equal("Engine", engine.GetProperty("Name").GetString());
            Assert.Equal(v.GetProperty("Version").GetString(), engine.GetProperty("Version").GetString());
            Assert.Equal("1.41", engine.GetProperty("Details").GetProperty("ApiVersion").GetString());
        }
    }

    [SkippableFact]
    public void Versions_outside_the_range_are_400_with_dockerds_words()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var (status, headers, body) = Http(Tools.Curl(Daemon.Socket, "-i", "http://berth/v1.99/version"));
        Assert.Equal(400, status);
        Assert.Equal("application/json", headers["content-type"]);
        Assert.Equal("client version 1.99 is too new. Maximum supported API version is 1.44",
            JsonDocument.Parse(body).RootElement.GetProperty("message").GetString());
        (status, _, body) = Http(Tools.Curl(Daemon.Socket, "-i", "http://berth/v1.12/info"));
        Assert.Equal(400, status);
        Assert.StartsWith("client version 1.12 is too old. Minimum supported API version is 1.24",
            JsonDocument.Parse(body).RootElement.GetProperty("message").GetString());
    }

    [SkippableFact]
    public void Info_reports_the_host_and_the_daemon()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        var info = Json(Tools.Curl(Daemon.Socket, "http://berth/v1.41/info"));
        string id = info.GetProperty("ID").GetString()!;
        Assert.Equal(File.ReadAllText(Path.Combine(Daemon.DataRoot, "engine-id")).Trim(), id);
        Assert.True(Guid.TryParse(id, out _), id);
        Assert.Equal(Daemon.DataRoot, info.GetProperty("DockerRootDir").GetString());
        Assert.Equal(0, info.GetProperty("Containers").GetInt32());
        Assert.Equal(0, info.GetProperty("ContainersRunning").GetInt32());
        Assert.Equal(0, info.GetProperty("Images").GetInt32());
        Assert.Equal("overlayfs", info.GetProperty("Driver").GetString());
        Assert.Equal("linux", info.GetProperty("OSType").GetString());
        Assert.Equal(Tools.Run("uname", ["-r"]).Stdout.Trim(), info.GetProperty("KernelVersion").GetString());
        Assert.Equal(Tools.Run("uname", ["-m"]).Stdout.Trim(), info.GetProperty("Architecture").GetString());
        Assert.Equal(Tools.Run("hostname", []).Stdout.Trim(), info.GetProperty("Name").GetString());
        Assert.Equal(int.Parse(Tools.Run("nproc", []).Stdout.Trim()), info.GetProperty("NCPU").GetInt32());
        string prettyName = Tools.Run("sh", ["-c", ". /etc/os-release && printf %s \"$PRETTY_NAME\""]).Stdout;
        Assert.Equal(prettyName, info.GetProperty("OperatingSystem").GetString());
        long memKb = long.Parse(Tools.Run("awk", ["/^MemTotal:/ {print $2}", "/proc/meminfo"]).Stdout.Trim());
        Assert.Equal(memKb * 1024, info.GetProperty("MemTotal").GetInt64());
        // A pure cgroup2 host is "2"; v1 and hybrid (this VM) are "1", as dockerd says.
        string fsType = Tools.Run("stat", ["-fc", "%T", "/sys/fs/cgroup"]).Stdout.Trim();
        Assert.Equal(fsType == "cgroup2fs" ? "2" : "1", info.GetProperty("CgroupVersion").GetString());
        Assert.Equal("cgroupfs", info.GetProperty("CgroupDriver").GetString());
        Assert.Equal("json-file", info.GetProperty("LoggingDriver").GetString());
        var runtimes = info.GetProperty("Runtimes");
        // The exec drivers a container may name with --runtime: the in-process one, and runc found on PATH.
        Assert.True(runtimes.TryGetProperty("berth", out _));
        Assert.True(runtimes.TryGetProperty("runc", out _));
        Assert.Equal("berth", info.GetProperty("DefaultRuntime").GetString());
        Assert.Equal("name=seccomp,profile=builtin", info.GetProperty("SecurityOptions")[0].GetString());
        Assert.Equal("inactive", info.GetProperty("Swarm").GetProperty("LocalNodeState").GetString());
    }

    [SkippableFact]
    public void Unknown_routes_are_404_page_not_found()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        foreach (string path in (string[])["/nope", "/v1.41/plugins", "/v1.41/swarm"])
        {
            var (status, headers, body) = Http(Tools.Curl(Daemon.Socket, "-i", "http://berth" + path));
            Assert.Equal(404, status);
            Assert.Equal("application/json", headers["content-type"]);
            Assert.Equal("page not found", JsonDocument.Parse(body).RootElement.GetProperty("message").GetString());
        }
    }

    [SkippableFact]
    public void Unknown_images_are_404_no_such_image_even_with_slashes_in_the_name()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        foreach (string name in (string[])["x", "localhost:5000/a/b:tag"])
        {
            var (status, headers, body) = Http(Tools.Curl(Daemon.Socket, "-i", $"http://berth/v1.41/images/{name}/json"));
            Assert.Equal(404, status);
            Assert.Equal("application/json", headers["content-type"]);
            Assert.Equal($"No such image: {name}", JsonDocument.Parse(body).RootElement.GetProperty("message").GetString());
        }
        var (deleteStatus, _, deleteBody) = Http(Tools.Curl(Daemon.Socket, "-i", "-X", "DELETE", "http://berth/v1.41/images/127.0.0.1:5000/busybox"));
        Assert.Equal(404, deleteStatus);
        Assert.Contains("127.0.0.1:5000/busybox", deleteBody);
        Assert.Equal(JsonValueKind.Array, Json(Tools.Curl(Daemon.Socket, "http://berth/v1.41/images/json")).ValueKind);
        Assert.Equal(0, Json(Tools.Curl(Daemon.Socket, "http://berth/v1.41/images/json")).GetArrayLength());
    }

    [SkippableFact]
    public void Socket_is_0660_root_and_the_pid_file_names_the_daemon()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        Assert.Equal("660 root socket", Tools.Run("stat", ["-c", "%a %U %F", Daemon.Socket]).Stdout.Trim());
        Assert.Equal(Daemon.Process.Id.ToString(), File.ReadAllText(Path.Combine(Daemon.ExecRoot, "berthd.pid")).Trim());
        // cat, not File.ReadAllText: .NET refuses to open a file another process holds an flock on.
        Assert.Equal(Daemon.Process.Id.ToString(), Tools.Run("cat", [Path.Combine(Daemon.DataRoot, "berthd.lock")]).Stdout.Trim());
    }

    [SkippableFact]
    public void Requests_are_logged_one_line_each_at_debug()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        Tools.Curl(Daemon.Socket, "http://berth/v1.41/images/logged-probe/json");
        string? line = Daemon.LogContaining("logged-probe", TimeSpan.FromSeconds(5)).Split('\n').FirstOrDefault(l => l.Contains("logged-probe"));
        Assert.NotNull(line);
        Assert.Matches("^time=\"[^\"]+\" level=debug msg=request method=GET path=/v1.41/images/logged-probe/json status=404 ms=[0-9.]+$", line);
        Assert.Contains("level=info msg=\"API listening\"", Daemon.Stderr);
    }

    /// <summary>
    /// The host builder's default (an appsettings.json reloaded on change under the content root, the data root) had
    /// berthd watch every directory of its data root with inotify: every layer's and every container's, a watch and
    /// a thread's work for each file a start or a removal makes.
    /// </summary>
    [SkippableFact]
    public void Berthd_does_not_watch_its_data_root()
    {
        Skip.IfNot(Tools.IsRoot, "berthd tests run as root (integration section of scripts/test.sh)");
        int pid = Daemon.Process.Id;
        var watches = Directory.GetFiles($"/proc/{pid}/fdinfo")
            .SelectMany(fd => { try { return File.ReadAllLines(fd); } catch (IOException) { return []; } })
            .Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
        Assert.True(watches == 0, $"berthd (pid {pid}) holds {watches} inotify watches");
    }
}
