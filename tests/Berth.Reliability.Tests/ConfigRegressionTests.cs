using System.Text.Json.Nodes;
using Berth.Reliability.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Reliability.Tests;

/// <summary>
/// The config.json cases the fuzzer (<see cref="ConfigFuzzTests"/>) found breaking its rules, kept as fixed cases on
/// the same base spec and judged by the same oracle: each must run, or be refused in one clear line that names a
/// JSON path or a file, and leave nothing behind.
/// </summary>
[Trait("runc-compatible", "false")] // runc's errors name no JSON path
public sealed class ConfigRegressionTests(ITestOutputHelper output) : ConfigCaseTest(output)
{
    static readonly Dictionary<string, Action<JsonObject>> Cases = new()
    {
        // init crashed with a .NET stack trace: RLIMIT_NOFILE's soft limit 0 left it no fd for exec.fifo, nor for
        // Console.Error to report that.
        ["RLIMIT_NOFILE without a soft limit"] = s => s["process"]!["rlimits"]![0]!.AsObject().Remove("soft"),
        ["a relative prestart hook path"] = s => s["hooks"]!["prestart"]![0]!["path"] = "bind",
        ["a prestart hook without a path"] = s => s["hooks"]!["prestart"]![0]!.AsObject().Remove("path"),
        ["a sysctl value the kernel refuses"] = s => s["linux"]!["sysctl"]!["net.ipv4.ip_forward"] = "mode=99999",
        ["effective capabilities that are not permitted"] = s => s["process"]!["capabilities"]!.AsObject().Remove("permitted"),
        ["a newline in a masked path"] = s => s["linux"]!["maskedPaths"]![4] = "new\nline",
        ["a newline in a seccomp action"] = s => s["linux"]!["seccomp"]!["syscalls"]![0]!["action"] = "new\nline",
        // "container init exited before it was ready (killed by signal 9)": the OOM killer, which the memory cgroup knows.
        ["a memory limit of 7 bytes"] = s => s["linux"]!["resources"]!["memory"]!["limit"] = 7,
        // "Object reference not set to an instance of an object.", from init.
        ["a null environment entry"] = s => s["process"]!["env"]![0] = null,
        // "Value cannot be null. (Parameter 's')", from init.
        ["a null sysctl value"] = s => s["linux"]!["sysctl"]!["net.ipv4.ip_forward"] = null,
        // "Value cannot be null. (Parameter 'chars')".
        ["a null prestart hook argument"] = s => s["hooks"]!["prestart"]![0]!["args"]![0] = null,
        // Runs where root has CAP_SYS_RESOURCE; here (DESIGN.md §4) it said "setting oomScoreAdj to -1: Permission denied".
        ["an oomScoreAdj below the runtime's"] = s => s["process"]!["oomScoreAdj"] = -1,
        // "container init exited before it was ready (exit status 255)": it could not start its threads.
        ["a pids limit of 1"] = s => s["linux"]!["resources"]!["pids"]!["limit"] = 1,
        // "Null character in path.", .NET's words, naming nothing.
        ["a NUL in root.path"] = s => s["root"]!["path"] = "a\u0000b",
        ["a NUL in an annotation's key"] = s => s["annotations"]!["a\u0000b"] = "c",
        // "Value cannot be null. (Parameter 's')", from the state file's writer: runc reads a null value as "".
        ["a null annotation value"] = s => s["annotations"]!["org.example.fuzz"] = null,
        ["a hostname of 302 bytes"] = s => s["hostname"] = new string('a', 302),
        // "mount tmpfs on /  (type tmpfs): Invalid argument": which mount, with an option tmpfs does not know?
        ["a tmpfs mount on \" \" with an unknown option"] = s =>
        {
            s["mounts"]![1]!["destination"] = " ";
            s["mounts"]![1]!["options"]![1] = "a7u2h";
        },
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void AConfigThatOnceBrokeTheRules(string name)
    {
        var spec = BaseSpec.DeepClone().AsObject();
        Cases[name](spec);
        var (result, why) = RunCase(spec.ToJsonString());
        Output.WriteLine(result.ToString());
        Assert.True(why is null, $"{name}: {why}\n{result}");
    }
}
