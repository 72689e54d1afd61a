namespace Berth.Integration.Tests.Infrastructure;

/// <summary>
/// What a container may leave on the host after its test: mounts mentioning the test's directories, cgroup
/// directories named after the container id, files in the state root, processes rooted in or naming the
/// work directory or sitting in a cgroup named after the id; and, where a test asks, controllers it left enabled
/// in a cgroup2 subtree_control of the host.
/// The mount baseline is captured before the test, so only new mounts count.
/// </summary>
public sealed class LeakCheck
{
    private const string CgroupRoot = "/sys/fs/cgroup";
    // Deep enough for the caller-relative memory path (memory:/process_api/<hash>/<id> here) plus nesting.
    private const int CgroupSearchDepth = 6;

    private readonly string _containerId;
    private readonly string _workDirectory;
    private readonly string _stateRoot;
    private readonly (ulong Device, ulong Inode)? _rootfs;
    private readonly HashSet<string> _baselineMounts;
    private readonly List<(string File, string[] Before)> _subtreeControls = [];

    public LeakCheck(string containerId, string workDirectory, string stateRoot, string rootfs)
    {
        _rootfs = FileIdentity.Of(rootfs);
        _containerId = containerId;
        _workDirectory = workDirectory;
        _stateRoot = stateRoot;
        _baselineMounts = MountsMentioningWorkDirectory().ToHashSet();
    }

    /// <summary>Other ids this test created (e.g. a second container) whose cgroups must be gone too.</summary>
    public List<string> ExtraIds { get; } = [];

    /// <summary>
    /// Also look for the cgroups and processes of every id "&lt;container id&gt;-SUFFIX": a test that makes hundreds of
    /// containers names them so, instead of tracking each one (one walk of /sys/fs/cgroup finds them all).
    /// </summary>
    public bool IncludeDerivedIds { get; set; }

    bool IsOurs(string name) =>
        name == _containerId || ExtraIds.Contains(name) || IncludeDerivedIds && name.StartsWith(_containerId + "-", StringComparison.Ordinal);

    /// <summary>Polls briefly (teardown may be asynchronous), then fails listing every leak found.</summary>
    public void AssertClean(TimeSpan? grace = null)
    {
        var leaks = WaitForClean(grace);
        if (leaks.Count > 0)
            Assert.Fail("left behind on the host:\n  " + string.Join("\n  ", leaks));
    }

    /// <summary>Polls until nothing leaks or the grace period ends; returns what is still there.</summary>
    public List<string> WaitForClean(TimeSpan? grace = null)
    {
        var deadline = DateTime.UtcNow + (grace ?? TimeSpan.FromSeconds(3));
        List<string> leaks;
        while ((leaks = FindLeaks()).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        return leaks;
    }

    /// <summary>
    /// Records the controllers <paramref name="subtreeControl"/> (a cgroup.subtree_control file of the host) enables
    /// now: afterwards, <see cref="RestoreSubtreeControls"/> disables what was added and a difference is a leak.
    /// </summary>
    public void WatchSubtreeControl(string subtreeControl) =>
        _subtreeControls.Add((subtreeControl, Controllers(subtreeControl) ?? throw new FileNotFoundException("no such subtree_control", subtreeControl)));

    /// <summary>
    /// Disables, in each watched subtree_control, the controllers enabled since it was recorded; the last watched
    /// first, since the kernel keeps a controller in a parent while a child enables it (watch parents first).
    /// </summary>
    /// <returns>One line a file where that failed (the leak check then reports the file).</returns>
    public List<string> RestoreSubtreeControls()
    {
        var failures = new List<string>();
        foreach (var (file, before) in Enumerable.Reverse(_subtreeControls))
        {
            var added = Controllers(file)?.Except(before).ToList() ?? []; // a removed cgroup took its file along
            if (added.Count == 0)
                continue;
            try
            {
                File.WriteAllText(file, string.Join(' ', added.Select(c => "-" + c)));
            }
            catch (IOException e)
            {
                failures.Add($"disabling {string.Join(", ", added)} in {file}: {e.Message}");
            }
        }
        return failures;
    }

    /// <summary>The controllers a subtree_control enables; null when its cgroup is gone.</summary>
    private static string[]? Controllers(string subtreeControl)
    {
        try
        {
            return File.ReadAllText(subtreeControl).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public bool HasNewMounts => MountsMentioningWorkDirectory().Any(m => !_baselineMounts.Contains(m));

    public List<string> FindLeaks()
    {
        var leaks = new List<string>();
        leaks.AddRange(MountsMentioningWorkDirectory().Where(m => !_baselineMounts.Contains(m)).Select(m => "mount: " + m));
        leaks.AddRange(CgroupDirectories(IsOurs).Select(d => "cgroup: " + d));
        if (Directory.Exists(_stateRoot))
            leaks.AddRange(Directory.EnumerateFileSystemEntries(_stateRoot).Select(e => "state: " + e));
        leaks.AddRange(ProcessesOfTheTest().Select(p => "process: " + p.Description));
        foreach (var (file, before) in _subtreeControls)
        {
            var now = Controllers(file);
            if (now is not null && !now.ToHashSet().SetEquals(before))
                leaks.Add($"subtree_control: {file} enabled \"{string.Join(' ', before)}\" before the test, now \"{string.Join(' ', now)}\"");
        }
        return leaks;
    }

    private IEnumerable<string> MountsMentioningWorkDirectory() =>
        File.ReadAllLines("/proc/self/mountinfo").Where(line => line.Contains(_workDirectory, StringComparison.Ordinal));

    /// <summary>Every directory named <paramref name="id"/> under /sys/fs/cgroup, in any hierarchy (or the tmpfs itself).</summary>
    public static List<string> CgroupDirectoriesNamed(string id) => CgroupDirectories(name => name == id);

    /// <summary>Every directory under /sys/fs/cgroup, in any hierarchy, whose name satisfies <paramref name="isOurs"/>.</summary>
    public static List<string> CgroupDirectories(Func<string, bool> isOurs)
    {
        var found = new List<string>();
        Search(new DirectoryInfo(CgroupRoot), CgroupSearchDepth + 1);
        return found;

        void Search(DirectoryInfo dir, int depthLeft)
        {
            if (depthLeft == 0)
                return;
            IEnumerable<DirectoryInfo> children;
            try
            {
                children = dir.EnumerateDirectories().ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // a cgroup removed while we walk
            }
            foreach (var child in children)
            {
                if (child.LinkTarget is not null)
                    continue; // cpu,cpuacct-style aliases point at a hierarchy we walk anyway
                if (isOurs(child.Name))
                    found.Add(child.FullName);
                Search(child, depthLeft - 1);
            }
        }
    }

    /// <summary>
    /// After a leak was reported: SIGKILL the test's own leftover processes (found by rootfs, cgroup or work dir)
    /// and remove the empty cgroups named after its ids, so one failing test does not litter the host.
    /// Mounts are left alone: unmounting from a test is riskier than reporting them.
    /// </summary>
    public void Reap()
    {
        foreach (var (pid, _) in ProcessesOfTheTest())
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // already gone
            }
        }
        Thread.Sleep(200); // let the kernel release the cgroups of the killed processes
        foreach (var dir in CgroupDirectories(IsOurs).OrderByDescending(d => d.Length))
        {
            try
            {
                Directory.Delete(dir, recursive: false); // rmdir: cgroupfs allows it once empty
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // still busy or has children; the failure message already names it
            }
        }
    }

    private IEnumerable<(int Pid, string Description)> ProcessesOfTheTest()
    {
        var self = Environment.ProcessId.ToString();
        foreach (var procDir in Directory.EnumerateDirectories("/proc"))
        {
            var pid = Path.GetFileName(procDir);
            if (pid == self || !pid.All(char.IsAsciiDigit))
                continue;
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(procDir, "cmdline")).Replace('\0', ' ').Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // exited while we looked
            }
            if (cmdline.Length == 0)
                continue; // kernel thread or zombie: holds nothing
            var cwd = TryReadLink(Path.Combine(procDir, "cwd"));
            var root = TryReadLink(Path.Combine(procDir, "root"));
            // A pivoted container's root shows as "/" by name; its inode is still the bundle's rootfs.
            var rootedInRootfs = _rootfs is not null && FileIdentity.Of(Path.Combine(procDir, "root") + "/") == _rootfs;
            var inContainerCgroup = TryReadLines(Path.Combine(procDir, "cgroup")).Any(line => IsOurs(line[(line.LastIndexOf('/') + 1)..]));
            if (cmdline.Contains(_workDirectory, StringComparison.Ordinal) ||
                cwd.StartsWith(_workDirectory, StringComparison.Ordinal) ||
                root.StartsWith(_workDirectory, StringComparison.Ordinal) ||
                rootedInRootfs || inContainerCgroup)
                yield return (int.Parse(pid), $"{pid} `{cmdline}` cwd={cwd} root={root} rootfs={rootedInRootfs} cgroup={inContainerCgroup}");
        }
    }

    private static string[] TryReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string TryReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget ?? "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
