using System.Diagnostics;
using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// process.terminal: with --console-socket the pty master reaches the caller's listener (SCM_RIGHTS) and is the
/// container's terminal, console and stdio; a foreground run without a socket relays the pty to its own terminal
/// (driven here through util-linux `script`), and restores that terminal; the combinations runc refuses are
/// refused without leaving anything behind; an image cannot redirect the console bind (CVE-2025-52565).
/// </summary>
public sealed class TerminalTests(ITestOutputHelper output) : ContainerTest(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private const int PtyMajor = 136; // /dev/pts/N: Unix98 pty peers

    private string SocketPath => Path.Combine(WorkDirectory, "console.sock");

    private static JsonObject TerminalSpec(string script, int rows = 33, int columns = 111)
    {
        var spec = Specs.Shell(script);
        spec.Process()["terminal"] = true;
        spec.Process()["consoleSize"] = new JsonObject { ["height"] = rows, ["width"] = columns };
        return spec;
    }

    /// <summary>create --console-socket, receive the master, start; returns the listener holding the master.</summary>
    private ConsoleListener CreateAndStartWithConsole(JsonObject spec)
    {
        var listener = new ConsoleListener(SocketPath);
        var created = Create(spec, "--console-socket", SocketPath);
        Assert.True(created.Succeeded, "create failed: " + created);
        listener.ReceiveMaster(Wait);
        Output.WriteLine($"master received, name sent with it: \"{listener.Name}\"");
        var started = Runtime.Run("start", Id);
        Assert.True(started.Succeeded, "start failed: " + started);
        return listener;
    }

    private static string Field(string text, string key) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..]
        ?? throw new Xunit.Sdk.XunitException($"no {key}= line in the container's output:\n{text}");

    private static int HexMajor(string majorMinor) => Convert.ToInt32(majorMinor.Split(':')[0], 16);

    [SkippableFact]
    public void ConsoleSocket_MasterIsTheContainersTerminal_ConsoleAndStdio()
    {
        // stat -L of /proc/self/fd/N names what stat itself got as stdio; ctty is field 7 of /proc/1/stat (tty_nr).
        var spec = TerminalSpec(
            "echo tty=$(tty); echo size=$(stty size); " +
            "stat -c 'console=%t:%T %F' /dev/console; stat -L -c 'stdin=%t:%T' /proc/self/fd/0; " +
            "stat -L -c 'stdout=%t:%T' /proc/self/fd/1; stat -L -c 'stderr=%t:%T' /proc/self/fd/2 >&2; " +
            "echo ctty=$(cut -d' ' -f7 /proc/1/stat); echo ready; read line; echo got:$line; exit 3");

        using var console = CreateAndStartWithConsole(spec);
        var first = console.ReadUntil("ready", Wait);
        console.Type("hello there\n");
        var text = first + console.ReadUntil("got:hello there", Wait);
        Output.WriteLine(text);

        Assert.Equal("/dev/pts/0", Field(text, "tty"));
        Assert.Equal("33 111", Field(text, "size"));
        string stdin = Field(text, "stdin");
        Assert.Equal(PtyMajor, HexMajor(stdin));
        Assert.Equal(stdin, Field(text, "stdout"));
        Assert.Equal(stdin, Field(text, "stderr"));
        // /dev/console is a bind of the peer: the same device, seen without following anything.
        Assert.Equal(stdin + " character special file", Field(text, "console"));
        // The shell's controlling terminal is the pty: tty_nr = major << 8 | minor.
        Assert.Equal((PtyMajor << 8) | Convert.ToInt32(stdin.Split(':')[1], 16), int.Parse(Field(text, "ctty")));
        Assert.Contains("got:hello there", text);
        WaitForStatus("stopped");
    }

    [SkippableFact]
    public void ConsoleSocket_ConsoleSizeIsSetBeforeStart_AndOutputEndsWithTheContainer()
    {
        using var console = new ConsoleListener(SocketPath);
        var created = Create(TerminalSpec("echo bye", rows: 12, columns: 200), "--console-socket", SocketPath);
        Assert.True(created.Succeeded, "create failed: " + created);
        console.ReceiveMaster(Wait);

        Assert.Equal(((ushort)12, (ushort)200), console.WindowSize());
        Assert.True(Runtime.Run("start", Id).Succeeded);
        // Read to the hang-up: the pty closes when the container's last process exits.
        var text = console.ReadUntil(null, Wait);
        Assert.Equal("bye\n", text);
        WaitForStatus("stopped");
    }

    [SkippableFact]
    public void ConsoleSocket_NonRootProcessOwnsItsTerminal()
    {
        var spec = TerminalSpec("echo uid=$(id -u); stat -L -c 'owner=%u' /proc/self/fd/0; echo typed > /dev/tty && echo tty-ok=yes");
        spec.Process()["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };

        using var console = CreateAndStartWithConsole(spec);
        var text = console.ReadUntil(null, Wait);
        Output.WriteLine(text);

        Assert.Equal("1000", Field(text, "uid"));
        Assert.Equal("1000", Field(text, "owner"));
        Assert.Equal("yes", Field(text, "tty-ok"));
    }

    [SkippableFact]
    public void ConsoleSocket_MessageIsTheMastersName_AsRuncSendsIt()
    {
        using var console = CreateAndStartWithConsole(TerminalSpec("true"));
        Assert.Equal("/dev/ptmx", console.Name);
    }

    [SkippableFact]
    public void ForegroundRun_RelaysThroughTheCallersTerminal_PassesTheExitCode_RestoresTheTerminal()
    {
        Bundle.WriteConfig(TerminalSpec("echo tty=$(tty); echo size=$(stty size); read line; echo got:$line; exit 5"));
        var (stdout, exitCode, files) = RunInScript("stty rows 21 cols 77; stty -g > before; " +
            $"{Quote(RuntimeBinary.Path)} --root {Quote(StateRoot)} run --bundle {Quote(Bundle.Path)} {Id}; echo $? > rc; stty -g > after",
            input: "typed text\n");

        Output.WriteLine(stdout);
        Assert.Equal(0, exitCode);
        Assert.Equal("5", files("rc"));
        Assert.Equal("/dev/pts/0", Field(stdout, "tty"));
        // The caller's size at start, not consoleSize: as runc, the relay follows the caller's terminal.
        Assert.Equal("21 77", Field(stdout, "size"));
        Assert.Contains("got:typed text", stdout);
        Assert.Equal(files("before"), files("after"));
        Assert.False(Directory.Exists(Path.Combine(StateRoot, Id)), "the foreground run did not delete its container");
    }

    [SkippableFact]
    public void ForegroundRun_ResizeOfTheCallersTerminalReachesTheContainer()
    {
        Bundle.WriteConfig(TerminalSpec("echo first=$(stty size); sleep 3; echo second=$(stty size)"));
        // The runtime runs in the background of script's shell; the shell's stty then resizes the shared terminal,
        // which sends SIGWINCH to the runtime.
        var (stdout, exitCode, files) = RunInScript("stty rows 20 cols 70; " +
            $"{Quote(RuntimeBinary.Path)} --root {Quote(StateRoot)} run --bundle {Quote(Bundle.Path)} {Id} </dev/tty & " +
            "sleep 1.5; stty rows 40 cols 90; wait $!; echo $? > rc", input: null);

        Output.WriteLine(stdout);
        Assert.Equal(0, exitCode);
        Assert.Equal("0", files("rc"));
        Assert.Equal("20 70", Field(stdout, "first"));
        Assert.Equal("40 90", Field(stdout, "second"));
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>Runs <paramref name="command"/> under `script` (a pty of its own) in a scratch dir; files are read from there.</summary>
    private (string Stdout, int ExitCode, Func<string, string> Files) RunInScript(string command, string? input)
    {
        var dir = HostDirectory("script");
        var start = new ProcessStartInfo("script")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        foreach (var a in new[] { "-q", "-e", "-c", command, "/dev/null" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            // After the container is up; the caller's terminal holds it until the relay reads it anyway.
            Thread.Sleep(500);
            process.StandardInput.Write(input);
            process.StandardInput.Flush();
        }
        // stdin stays open until script is done: an EOF would make script end the session early.
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("script did not finish within 30s; output so far: " + (stdout.IsCompleted ? stdout.Result : ""));
        }
        process.StandardInput.Close();
        if (stderr.Result.Length > 0) Output.WriteLine("script stderr: " + stderr.Result);
        return (stdout.Result.Replace("\r", ""), process.ExitCode, name => File.ReadAllText(Path.Combine(dir, name)).Trim());
    }

    // ---- refusals: nothing may be left behind ----

    private void AssertRefused(RuntimeResult result, params string[] anyOf)
    {
        Assert.False(result.Succeeded, "expected a refusal: " + result);
        Assert.False(result.TimedOut, "the runtime hung: " + result);
        Assert.True(anyOf.Any(s => result.Stderr.Contains(s, StringComparison.OrdinalIgnoreCase)),
            $"the error names none of [{string.Join(", ", anyOf)}]: {result.Stderr}");
        Assert.False(State().Succeeded, "the refused container exists");
        Leaks.AssertClean();
    }

    [SkippableFact]
    public void Create_TerminalWithoutConsoleSocket_IsRefused()
    {
        AssertRefused(Create(TerminalSpec("true")), "console socket", "console-socket");
    }

    [SkippableFact]
    public void DetachedRun_TerminalWithoutConsoleSocket_IsRefused()
    {
        Bundle.WriteConfig(TerminalSpec("true"));
        AssertRefused(Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id), "console socket", "console-socket");
    }

    [SkippableFact]
    public void ConsoleSocket_ThatDoesNotExist_IsRefusedNamingThePath()
    {
        var missing = Path.Combine(WorkDirectory, "no-such.sock");
        AssertRefused(Create(TerminalSpec("true"), "--console-socket", missing), missing);
    }

    [SkippableFact]
    public void ConsoleSocket_WithoutTerminal_IsRefused()
    {
        using var listener = new ConsoleListener(SocketPath);
        AssertRefused(Create(Specs.Default("true"), "--console-socket", SocketPath), "console socket", "console-socket");
    }

    // ---- CVE-2025-52565: the image must not choose where the console bind lands, nor what is bound ----

    /// <summary>The spec without its /dev tmpfs: the image's own /dev (with its symlinks) is what the runtime meets.</summary>
    private static JsonObject WithImageDev(JsonObject spec)
    {
        var mounts = spec.Mounts();
        var devTmpfs = mounts.First(m => (string)m!["destination"]! == "/dev")!;
        mounts.Remove(devTmpfs);
        return spec;
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 follows it: the pty is bound over /etc/victim (seen here)
    public void ImageConsoleSymlink_IsNotFollowed_TheBindLandsOnDevConsole()
    {
        File.WriteAllText(Bundle.InRootfs("/etc/victim"), "untouched\n");
        File.CreateSymbolicLink(Bundle.InRootfs("/dev/console"), "/etc/victim");

        var spec = WithImageDev(TerminalSpec(
            "stat -c 'console=%t:%T %F' /dev/console; stat -L -c 'stdin=%t:%T' /proc/self/fd/0; " +
            "stat -c 'victim=%F' /etc/victim; echo content=$(cat /etc/victim)"));
        using var console = CreateAndStartWithConsole(spec);
        var text = console.ReadUntil(null, Wait);
        Output.WriteLine(text);

        Assert.Equal(Field(text, "stdin") + " character special file", Field(text, "console"));
        Assert.Equal("regular file", Field(text, "victim"));
        Assert.Equal("untouched", Field(text, "content"));
        Assert.Equal("untouched\n", File.ReadAllText(Bundle.InRootfs("/etc/victim")));
    }

    [SkippableFact]
    [Trait("runc-compatible", "false")] // runc 1.1.5 binds /dev/pts/N by path and follows the image's symlink (the CVE)
    public void ImagePtsSymlink_CannotRedirectThePeer()
    {
        // devpts is mounted elsewhere and /dev/ptmx leads to its ptmx, but through the image's /dev/pts, a symlink
        // to a directory of plain files: a runtime that binds "/dev/pts/N" by path binds the image's file.
        Bundle.CreateDirectory(Bundle.InRootfs("/devpts"));
        Bundle.CreateDirectory(Bundle.InRootfs("/etc/fakepts"));
        for (int i = 0; i < 4; i++)
            File.WriteAllText(Bundle.InRootfs($"/etc/fakepts/{i}"), "fake\n");
        File.CreateSymbolicLink(Bundle.InRootfs("/etc/fakepts/ptmx"), "/devpts/ptmx");
        File.CreateSymbolicLink(Bundle.InRootfs("/dev/pts"), "/etc/fakepts");
        File.CreateSymbolicLink(Bundle.InRootfs("/dev/ptmx"), "pts/ptmx");

        var spec = WithImageDev(TerminalSpec(
            "stat -c 'console=%t:%T %F' /dev/console; stat -L -c 'stdin=%t:%T %F' /proc/self/fd/0; " +
            "echo fake=$(cat /etc/fakepts/0)"));
        var devpts = spec.Mounts().First(m => (string)m!["destination"]! == "/dev/pts")!;
        devpts["destination"] = "/devpts";
        using var console = CreateAndStartWithConsole(spec);
        var text = console.ReadUntil(null, Wait);
        Output.WriteLine(text);

        string stdin = Field(text, "stdin");
        Assert.Equal(PtyMajor, HexMajor(stdin));
        Assert.EndsWith("character special file", stdin);
        Assert.Equal(stdin, Field(text, "console"));
        Assert.Equal("fake", Field(text, "fake"));
    }

    [SkippableFact]
    public void PtmxThatIsNotADevptsPtmx_IsRefused()
    {
        // /dev/ptmx in the image leads to a regular file: no pty can come from it.
        File.WriteAllText(Bundle.InRootfs("/etc/notptmx"), "");
        File.CreateSymbolicLink(Bundle.InRootfs("/dev/ptmx"), "/etc/notptmx");
        var spec = WithImageDev(TerminalSpec("true"));
        spec.Mounts().Remove(spec.Mounts().First(m => (string)m!["destination"]! == "/dev/pts"));

        using var listener = new ConsoleListener(SocketPath);
        AssertRefused(Create(spec, "--console-socket", SocketPath), "/dev/ptmx");
    }

    // ---- exec -t: a pty of the container's devpts for a process started in a running container ----

    /// <summary>A running container without a terminal of its own, its init sleeping.</summary>
    private void StartSleeper()
    {
        Bundle.WriteConfig(Specs.Default("sleep", "1000"));
        var result = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);
        Assert.True(result.Succeeded, "run -d failed: " + result);
    }

    private string WriteProcessFile(JsonObject process)
    {
        var path = Path.Combine(WorkDirectory, "process.json");
        File.WriteAllText(path, process.ToJsonString());
        return path;
    }

    [SkippableFact]
    public void ExecProcessFile_ConsoleSocket_PtyIsTheProcessesTerminal_SizedAndOwnedByItsUser()
    {
        StartSleeper();
        var process = Specs.Shell(
            "echo tty=$(tty); echo size=$(stty size); stat -L -c 'stdin=%t:%T' /proc/self/fd/0; " +
            "stat -L -c 'stderr=%t:%T' /proc/self/fd/2; stat -c 'owner=%u' $(tty); echo ctty=$(cut -d' ' -f7 /proc/self/stat); " +
            "echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$; echo fds=$(ls /proc/self/fd | tr '\\n' ' '); " +
            "echo ready; read line; echo got:$line").Process();
        process["terminal"] = true;
        process["consoleSize"] = new JsonObject { ["height"] = 27, ["width"] = 93 };
        process["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
        using var console = new ConsoleListener(SocketPath);

        var exec = Runtime.Run("exec", "-d", "--console-socket", SocketPath, "--process", WriteProcessFile(process), Id);
        Assert.True(exec.Succeeded, "exec failed: " + exec);
        console.ReceiveMaster(Wait);
        var text = console.ReadUntil("ready", Wait);
        console.Type("typed in\n");
        text += console.ReadUntil("got:typed in", Wait);
        Output.WriteLine($"name: {console.Name}\n{text}");

        Assert.Matches(@"^/dev/pts/\d+$", Field(text, "tty"));
        Assert.Equal("27 93", Field(text, "size"));
        Assert.Equal((27, 93), ((int, int))console.WindowSize());
        string stdin = Field(text, "stdin");
        Assert.Equal(PtyMajor, HexMajor(stdin));
        Assert.Equal(stdin, Field(text, "stderr"));
        Assert.Equal("1000", Field(text, "owner"));
        // A session leader whose controlling terminal is the pty (tty_nr = major << 8 | minor).
        Assert.Equal((PtyMajor << 8) | Convert.ToInt32(stdin.Split(':')[1], 16), int.Parse(Field(text, "ctty")));
        var sid = Field(text, "sid").Split(" pid=");
        Assert.Equal(sid[1], sid[0]);
        // Nothing of the runtime's reaches the process: stdio, and ls's own directory fd.
        Assert.Equal("0 1 2 3", Field(text, "fds"));
        Assert.Contains("got:typed in", text);
        Assert.Equal("/dev/ptmx", console.Name);
    }

    [SkippableFact]
    public void ExecTty_ConsoleSocket_InlineCommand()
    {
        StartSleeper();
        using var console = new ConsoleListener(SocketPath);

        var exec = Runtime.Run("exec", "-t", "-d", "--console-socket", SocketPath, Id, "sh", "-c", "echo tty=$(tty); echo end");
        Assert.True(exec.Succeeded, "exec failed: " + exec);
        console.ReceiveMaster(Wait);
        var text = console.ReadUntil(null, Wait); // to the hang-up: the process exited, the master reads EIO
        Output.WriteLine(text);

        Assert.Matches(@"^/dev/pts/\d+$", Field(text, "tty"));
        Assert.Contains("end", text);
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void ForegroundExecTty_RelaysThroughTheCallersTerminal_PassesTheExitCode_RestoresTheTerminal()
    {
        StartSleeper();
        var (stdout, exitCode, files) = RunInScript("stty rows 23 cols 81; stty -g > before; " +
            $"{Quote(RuntimeBinary.Path)} --root {Quote(StateRoot)} exec -t {Id} sh -c 'echo tty=$(tty); echo size=$(stty size); read line; echo got:$line; exit 6'; " +
            "echo $? > rc; stty -g > after", input: "typed text\n");

        Output.WriteLine(stdout);
        Assert.Equal(0, exitCode);
        Assert.Equal("6", files("rc"));
        Assert.Matches(@"^/dev/pts/\d+$", Field(stdout, "tty"));
        Assert.Equal("23 81", Field(stdout, "size"));
        Assert.Contains("got:typed text", stdout);
        Assert.Equal(files("before"), files("after"));
        Assert.Equal("running", Status());
    }

    [SkippableFact]
    public void ForegroundExecTty_ResizeOfTheCallersTerminalReachesTheProcess()
    {
        StartSleeper();
        var (stdout, exitCode, files) = RunInScript("stty rows 20 cols 70; " +
            $"{Quote(RuntimeBinary.Path)} --root {Quote(StateRoot)} exec -t {Id} sh -c 'echo first=$(stty size); sleep 3; echo second=$(stty size)' </dev/tty & " +
            "sleep 1.5; stty rows 41 cols 91; wait $!; echo $? > rc", input: null);

        Output.WriteLine(stdout);
        Assert.Equal(0, exitCode);
        Assert.Equal("0", files("rc"));
        Assert.Equal("20 70", Field(stdout, "first"));
        Assert.Equal("41 91", Field(stdout, "second"));
    }

    [SkippableFact]
    public void ExecTty_InAUserNamespace_TheTerminalIsOwnedByTheMappedUser()
    {
        const int hostId = 100000, size = 65536;
        Bundle.ChownRootfs(hostId, hostId);
        var spec = Specs.Default("sleep", "1000").WithNamespace("user");
        spec.Linux()["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = hostId, ["size"] = size });
        spec.Linux()["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = hostId, ["size"] = size });
        Bundle.WriteConfig(spec);
        var run = Runtime.Run("run", "-d", "--bundle", Bundle.Path, Id);
        Assert.True(run.Succeeded, "run -d failed: " + run);
        using var console = new ConsoleListener(SocketPath);

        var exec = Runtime.Run("exec", "-t", "-d", "--console-socket", SocketPath, "-u", "1000", Id,
            "sh", "-c", "echo id=$(id -u); stat -c 'owner=%u' $(tty); echo ctty=$(cut -d' ' -f7 /proc/self/stat)");
        Assert.True(exec.Succeeded, "exec failed: " + exec);
        console.ReceiveMaster(Wait);
        var text = console.ReadUntil(null, Wait);
        Output.WriteLine(text);

        Assert.Equal("1000", Field(text, "id"));
        Assert.Equal("1000", Field(text, "owner"));
        Assert.NotEqual("0", Field(text, "ctty"));
    }

    private void AssertExecRefused(RuntimeResult result, params string[] anyOf)
    {
        Assert.False(result.Succeeded, "expected a refusal: " + result);
        Assert.False(result.TimedOut, "the runtime hung: " + result);
        Assert.True(anyOf.Any(s => result.Stderr.Contains(s, StringComparison.OrdinalIgnoreCase)),
            $"the error names none of [{string.Join(", ", anyOf)}]: {result.Stderr}");
        // Nothing ran: the container has its init alone.
        var ps = Runtime.Run("exec", Id, "sh", "-c", "cat /proc/[0-9]*/comm");
        Assert.True(ps.Succeeded, "exec after the refusal failed: " + ps);
        Assert.Equal(["sleep"], ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(c => c is not ("sh" or "cat")));
    }

    [SkippableFact]
    public void DetachedExecTty_WithoutConsoleSocket_IsRefused()
    {
        StartSleeper();
        AssertExecRefused(Runtime.Run("exec", "-t", "-d", Id, "true"), "console socket", "console-socket");
    }

    [SkippableFact]
    public void ExecConsoleSocket_WithoutTty_IsRefused()
    {
        StartSleeper();
        using var listener = new ConsoleListener(SocketPath);
        AssertExecRefused(Runtime.Run("exec", "-d", "--console-socket", SocketPath, Id, "true"), "console socket", "console-socket");
    }

    [SkippableFact]
    public void ForegroundExecTty_WithConsoleSocket_IsRefused()
    {
        StartSleeper();
        using var listener = new ConsoleListener(SocketPath);
        AssertExecRefused(Runtime.Run("exec", "-t", "--console-socket", SocketPath, Id, "true"), "console socket", "console-socket");
    }
}
