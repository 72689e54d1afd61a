using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// Every error path the suites know (bad configs, bad ids, missing files, bad flags) through the published binary: each
/// fails, and no output (stdout, stderr, the --log JSON) carries a .NET resource key where a sentence belongs. NativeAOT
/// with UseSystemResourceKeys prints "UnauthorizedAccess_IODenied_Path" or "DeserializeUnableToConvertValue,
/// System.UInt64" instead of the framework's message.
/// </summary>
public sealed class ErrorTextTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <param name="Log">Run with --log FILE --log-format json (not for cases about those flags).</param>
    /// <param name="RuncAccepts">runc 1.1.5 succeeds here (berth-runtime refuses): only the text is checked on runc.</param>
    sealed record Case(string Name, string[] Arguments, string? Stdin = null, bool Log = true, bool RuncAccepts = false);

    string WriteBundle(string name, Action<JsonObject>? change = null, string? text = null)
    {
        string dir = HostDirectory(name);
        var spec = Specs.Default("true");
        spec["root"]!["path"] = Bundle.Rootfs;
        change?.Invoke(spec);
        File.WriteAllText(Path.Combine(dir, "config.json"), text ?? spec.ToJsonString());
        return dir;
    }

    IEnumerable<Case> Cases()
    {
        string missing = Path.Combine(WorkDirectory, "no-such-file");
        string aDirectory = HostDirectory("a-directory");
        string notJson = Path.Combine(WorkDirectory, "not-json");
        File.WriteAllText(notJson, "{ not json");
        string loop = Path.Combine(WorkDirectory, "loop");
        File.CreateSymbolicLink(loop, loop);

        // ---- bad configs ----
        foreach (var (name, text) in new[] { ("empty", ""), ("truncated", "{\"ociVersion\": "), ("array", "[1, 2]"), ("null", "null") })
            yield return new($"config {name}", ["create", "--bundle", WriteBundle("cfg-" + name, text: text), TrackId(NewId())]);
        var configs = new (string Name, Action<JsonObject> Change)[]
        {
            ("negative rlimit", s => s.Process()["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = -1, ["hard"] = 1024 })),
            ("unknown rlimit", s => s.Process()["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_BOGUS", ["soft"] = 1, ["hard"] = 1 })),
            ("uid as a string", s => s.Process()["user"] = new JsonObject { ["uid"] = "root", ["gid"] = 0 }),
            ("uid too large", s => s.Process()["user"] = new JsonObject { ["uid"] = 99999999999, ["gid"] = 0 }),
            ("no args", s => s.Process()["args"] = new JsonArray()),
            ("unknown namespace", s => s.WithNamespace("bogus")),
            ("namespace path missing", s => s.WithNamespace("network", missing)),
            ("missing rootfs", s => s["root"]!["path"] = missing),
            ("rootfs is a file", s => s["root"]!["path"] = notJson),
            ("bind mount of a missing source", s => s.Mounts().Add(Specs.Mount("/mnt", "bind", missing, "bind"))),
            ("memory limit as a string", s => s.Linux()["resources"]!["memory"] = new JsonObject { ["limit"] = "lots" }),
            ("unknown seccomp action", s => s.Linux()["seccomp"] = new JsonObject { ["defaultAction"] = "SCMP_ACT_BOGUS" }),
            ("relative hook path", s => s["hooks"] = new JsonObject { ["prestart"] = new JsonArray(new JsonObject { ["path"] = "relative" }) }),
            ("host-wide sysctl", s => s.Linux()["sysctl"] = new JsonObject { ["kernel.core_pattern"] = "x" }),
            ("missing executable", s => s.Process()["args"] = Specs.Strings("/bin/bt-no-such-program")),
            ("cwd not absolute", s => s.Process()["cwd"] = "relative"),
        };
        foreach (var (name, change) in configs)
            yield return new($"config: {name}", ["create", "--bundle", WriteBundle("cfg-" + name.Replace(' ', '-'), change), TrackId(NewId())]);
        string dirConfig = HostDirectory("cfg-directory");
        Directory.CreateDirectory(Path.Combine(dirConfig, "config.json"));
        yield return new("config.json is a directory", ["create", "--bundle", dirConfig, NewId()]);
        string loopConfig = HostDirectory("cfg-loop");
        File.CreateSymbolicLink(Path.Combine(loopConfig, "config.json"), Path.Combine(loopConfig, "config.json"));
        yield return new("config.json is a symlink loop", ["create", "--bundle", loopConfig, NewId()]);
        yield return new("missing bundle", ["create", "--bundle", missing, NewId()]);
        yield return new("bundle is a file", ["create", "--bundle", notJson, NewId()]);
        yield return new("bundle without config.json", ["create", "--bundle", aDirectory, NewId()]);

        // ---- bad ids, and ids of no container ----
        string good = WriteBundle("good");
        foreach (var id in new[] { "", ".", "..", "a/b", "../escape", new string('x', 1100), "bad\nid" })
            yield return new($"create with id '{id[..Math.Min(id.Length, 12)]}'", ["create", "--bundle", good, id]);
        foreach (var verb in new[] { "state", "start", "kill", "delete", "pause", "resume", "ps", "events", "update" })
        {
            yield return new($"{verb} of an unknown id", [verb, NewId()]);
            yield return new($"{verb} of a bad id", [verb, "a/b"]);
            yield return new($"{verb} of an empty id", [verb, ""]);
        }
        yield return new("exec in an unknown id", ["exec", NewId(), "true"]);
        yield return new("exec in an empty id", ["exec", "", "true"]);

        // ---- missing files, and files of the wrong kind ----
        yield return new("exec --process missing", ["exec", "--process", missing, Id]);
        yield return new("exec --process a directory", ["exec", "--process", aDirectory, Id]);
        yield return new("exec --process not JSON", ["exec", "--process", notJson, Id]);
        yield return new("exec --process a symlink loop", ["exec", "--process", loop, Id]);
        yield return new("update -r missing", ["update", "-r", missing, Id]);
        yield return new("update -r a directory", ["update", "-r", aDirectory, Id]);
        yield return new("update -r not JSON", ["update", "-r", notJson, Id]);
        yield return new("update -r - not JSON", ["update", "-r", "-", Id], Stdin: "[1,");
        yield return new("--pid-file in a missing directory", ["create", "--bundle", good, "--pid-file", Path.Combine(missing, "pid"), TrackId(NewId())]);
        yield return new("--pid-file is a directory", ["create", "--bundle", good, "--pid-file", aDirectory, TrackId(NewId())]);
        yield return new("--console-socket missing", ["exec", "-t", "-d", "--console-socket", missing, Id, "true"]);
        yield return new("spec into a missing directory", ["spec", "--bundle", missing]);
        yield return new("spec over an existing config", ["spec", "--bundle", good]);

        // ---- bad flags and arguments ----
        yield return new("unknown flag", ["state", "--bogus", Id]);
        yield return new("unknown command", ["bogus-command"]);
        yield return new("no command", [], RuncAccepts: true); // runc prints its help
        yield return new("bad --log-format", ["--log-format", "xml", "state", Id], Log: false);
        yield return new("--log in a missing directory", ["--log", Path.Combine(missing, "log.json"), "state", NewId()], Log: false);
        yield return new("--log is a directory", ["--log", aDirectory, "state", NewId()], Log: false);
        yield return new("unknown signal name", ["kill", Id, "SIGBOGUS"]);
        yield return new("signal out of range", ["kill", Id, "99"]);
        yield return new("negative signal", ["kill", Id, "-5"]);
        yield return new("bad list format", ["list", "--format", "yaml"]);
        yield return new("bad ps format", ["ps", "--format", "yaml", Id]);
        yield return new("bad memory size", ["update", "--memory", "lots", Id]);
        yield return new("negative cpu period", ["update", "--cpu-period", "-1", Id]);
        yield return new("cpu quota not a number", ["update", "--cpu-quota", "half", Id]);
        yield return new("pids limit not a number", ["update", "--pids-limit", "many", Id]);
        yield return new("--preserve-fds not a number", ["exec", "--preserve-fds", "two", Id, "true"]);
        yield return new("bad blkio weight", ["update", "--blkio-weight", "70000", Id]);
        yield return new("negative --preserve-fds", ["create", "--bundle", good, "--preserve-fds", "-1", TrackId(NewId())], RuncAccepts: true);
        yield return new("--preserve-fds beyond the open fds", ["create", "--bundle", good, "--preserve-fds", "500", TrackId(NewId())]);
        yield return new("bad events interval", ["events", "--interval", "soon", Id]);
        yield return new("exec without a command", ["exec", Id]);
        yield return new("exec --user not a number", ["exec", "--user", "alice", Id, "true"]);
        yield return new("exec unknown capability", ["exec", "--cap", "CAP_BOGUS", Id, "true"], RuncAccepts: true);
        yield return new("exec env without =", ["exec", "--env", "NOEQUALS", Id, "true"]);
        yield return new("exec relative cwd", ["exec", "--cwd", "relative", Id, "true"]);
        yield return new("exec --apparmor", ["exec", "--apparmor", "x", Id, "true"]);
        yield return new("--systemd-cgroup", ["--systemd-cgroup", "state", Id], RuncAccepts: true);
    }

    static bool IsRunc => Path.GetFileName(RuntimeBinary.Path) == "runc";

    [SkippableFact]
    public void NoErrorPath_PrintsAResourceKey()
    {
        // A running container for the verbs that need one.
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        Assert.True(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id).Succeeded, "run -d failed");

        var offenders = new List<string>();
        var succeeded = new List<string>();
        int n = 0;
        foreach (var c in Cases())
        {
            string log = Path.Combine(WorkDirectory, $"log-{n++}.json");
            string[] global = c.Log ? ["--log", log, "--log-format", "json"] : [];
            var result = c.Stdin is { } input
                ? Runtime.RunWithInput(input, [.. global, .. c.Arguments])
                : Runtime.Run(c.Arguments, global);
            string logged = File.Exists(log) ? File.ReadAllText(log) : "";
            foreach (var (where, text) in new[] { ("stdout", result.Stdout), ("stderr", result.Stderr), ("--log", logged) })
                foreach (Match m in ErrorText.ResourceKey().Matches(text).Concat(ErrorText.DotnetTypeName().Matches(text)))
                    offenders.Add($"{c.Name}: {where} has \"{m.Value}\" in: {text.Trim()}");
            if (result.TimedOut || result.Succeeded && !(c.RuncAccepts && IsRunc)) succeeded.Add($"{c.Name}: {result}");
        }

        Assert.True(offenders.Count == 0, "resource keys instead of sentences:\n  " + string.Join("\n  ", offenders));
        Assert.True(succeeded.Count == 0, "error paths that did not fail:\n  " + string.Join("\n  ", succeeded));
    }

    [SkippableFact]
    public void ThePatterns_FindKeysAndTypes_AndSpareKernelNames()
    {
        Assert.Matches(ErrorText.DotnetTypeName(), "as expected type 'System.Nullable`1[System.UInt64]'.");
        Assert.DoesNotMatch(ErrorText.DotnetTypeName(), "--cpu-period \"-1\": expected a non-negative integer");
        Assert.Matches(ErrorText.ResourceKey(), "cannot read: UnauthorizedAccess_IODenied_Path, /x/config.json");
        Assert.Matches(ErrorText.ResourceKey(), "DeserializeUnableToConvertValue, System.UInt64");
        Assert.Matches(ErrorText.ResourceKey(), "container id must not be empty Arg_ParamName_Name, id");
        Assert.Matches(ErrorText.ResourceKey(), "IO_PathNotFound_Path");
        Assert.DoesNotMatch(ErrorText.ResourceKey(), "RLIMIT_NOFILE hard limit 30000 above ours; CAP_SYS_RESOURCE; SCMP_ACT_ERRNO; memory.limit_in_bytes");
        Assert.DoesNotMatch(ErrorText.ResourceKey(), "UnauthorizedAccessException at /proc/self/fd/3: Permission denied");
    }
}
