namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>
/// A network namespace of the test's own, kept in a file (unshare --net=FILE), with its loopback up: daemons that make
/// bridges run in one (nsenter --net=FILE), so that nothing they make reaches the host's network. Dispose unmounts it,
/// which deletes what is left in it (bridges, veth pairs) once no process holds it.
/// </summary>
public sealed class TestNetns : IDisposable
{
    public string Path { get; }

    public TestNetns(string dir)
    {
        Path = System.IO.Path.Combine(dir, "netns");
        File.WriteAllBytes(Path, []);
        Check(Tools.Run("unshare", ["--net=" + Path, "true"]));
        Check(Tools.Run("nsenter", ["--net=" + Path, "ip", "link", "set", "lo", "up"]));
    }

    /// <summary>A command run in the namespace (nsenter --net).</summary>
    public ProcessResult Run(string file, params string[] args) => Tools.Run("nsenter", ["--net=" + Path, "--", file, .. args]);

    /// <summary>The names of the links in the namespace, as `ip -o link` lists them (without the @peer part).</summary>
    public IReadOnlyList<string> Links() =>
        [.. Check(Run("ip", "-o", "link")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':')[1].Trim().Split('@')[0]).Order(StringComparer.Ordinal)];

    static ProcessResult Check(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    public void Dispose()
    {
        Tools.Run("umount", ["-l", Path]);
        File.Delete(Path);
    }
}
