using System.Diagnostics;
using Berth.Linux;
using Berth.Network;

namespace Berth.Network.Tests;

/// <summary>
/// Network namespace files a test makes under a temp directory of its own, all removed at the end, where the
/// directory must show no mount left in /proc/self/mountinfo. Tests work only in these, never in the host's.
/// </summary>
sealed class ScratchNamespaces : IDisposable
{
    readonly List<string> _made = [];

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("berth-netns-").FullName;

    public string Create(string name)
    {
        var path = Path.Combine(Directory, name);
        NetworkNamespaceFile.Create(path);
        _made.Add(path);
        return path;
    }

    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var path in _made)
        {
            try { NetworkNamespaceFile.Remove(path); }
            catch (Exception e) { failures.Add(e.Message); }
        }
        var left = File.ReadAllLines("/proc/self/mountinfo").Where(line => line.Contains(Directory)).ToList();
        // Whatever Remove failed to undo is undone here, so that a failing test leaves the host as it found it.
        foreach (var path in _made) Libc.umount2(path, Libc.MNT_DETACH);
        System.IO.Directory.Delete(Directory, recursive: true);
        Assert.True(failures.Count == 0, $"removing the namespace files failed: {string.Join("; ", failures)}");
        Assert.True(left.Count == 0, $"mounts left under {Directory}:\n{string.Join('\n', left)}");
    }

    /// <summary>An RtNetlink in the namespace bound on <paramref name="netns"/>, opened only once the thread is seen to be
    /// in it: a RunIn that failed to join would otherwise have the test change the host's links.</summary>
    public static RtNetlink OpenLinks(string netns) => NetworkNamespaceFile.RunIn(netns, () =>
    {
        var here = NetnsOfThisThread();
        if (here != NetnsOf(netns))
            throw new InvalidOperationException($"RunIn({netns}) ran in {here}, not in {NetnsOf(netns)}: no links are changed there");
        return RtNetlink.Open();
    });

    public static string NetnsOfThisThread() => new FileInfo("/proc/thread-self/ns/net").LinkTarget!;

    /// <summary>The namespace bound on <paramref name="path"/>, in the form of an ns link's target.</summary>
    public static string NetnsOf(string path)
    {
        using var file = Sys.Open(path, Libc.O_RDONLY);
        return $"net:[{Sys.FStat(file).Ino}]";
    }

    /// <summary>Runs a program in the namespace bound on <paramref name="netns"/> (nsenter --net) and returns its output;
    /// a non-zero exit fails the test unless <paramref name="check"/> is false.</summary>
    public static (int Exit, string Output) Run(string netns, string program, string arguments, bool check = true)
    {
        var start = new ProcessStartInfo("nsenter", $"--net={netns} {program} {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            Assert.Fail($"{program} {arguments} in {netns} did not exit within 60 s");
        }
        var text = output.Result + error.Result;
        if (check) Assert.True(process.ExitCode == 0, $"{program} {arguments} in {netns} exited {process.ExitCode}: {text}");
        return (process.ExitCode, text);
    }
}
