using System.Diagnostics;
using System.Globalization;
using System.Text;
using Berth.Linux;
using Berth.Oci;

namespace Berth.Cgroups;

/// <summary>
/// One container's cgroups, placed as runc's cgroupfs driver places them: a directory in every v1 hierarchy
/// and in the cgroup2 one on a hybrid host, in the cgroup2 one only on a pure v2 host. Applies resources (v1
/// files, or v2 files with crun's conversions), moves processes in, freezes, and removes what it made.
/// </summary>
public sealed class CgroupManager
{
    /// <summary><see cref="Paths"/> key of the cgroup2 directory on a pure v2 host.</summary>
    public const string V2Key = "";

    /// <summary><see cref="Paths"/> key of the cgroup2 directory on a hybrid host (joined for tracking only).</summary>
    public const string HybridUnifiedKey = "unified";

    const string DevicesKey = "devices", CpusetKey = "cpuset", FreezerKey = "freezer";
    static readonly TimeSpan DestroyBudget = TimeSpan.FromSeconds(1);

    readonly Dictionary<string, string> _paths;
    readonly List<string> _created;
    readonly ICgroupFs _fs;
    readonly IDeviceFilterAttacher _deviceFilter;

    CgroupManager(CgroupMode mode, Dictionary<string, string> paths, IEnumerable<string> created, ICgroupFs fs,
        IDeviceFilterAttacher? deviceFilter)
    {
        Mode = mode;
        _paths = paths;
        _created = [.. created];
        _fs = fs;
        _deviceFilter = deviceFilter ?? BpfDeviceFilterAttacher.Instance;
    }

    public CgroupMode Mode { get; }

    /// <summary>
    /// Hierarchy key ("cpu", "memory", "name=systemd", "unified" on a hybrid host, "" on a pure v2 host) →
    /// absolute directory. Co-mounted v1 controllers ("cpu,cpuacct") get one key each, pointing to one directory.
    /// </summary>
    public IReadOnlyDictionary<string, string> Paths => _paths;

    /// <summary>The directories <see cref="Create"/> made (leaves and parents), in creation order: save them
    /// with <see cref="Paths"/> so that <see cref="Destroy"/> after <see cref="Load"/> also removes parents it made.</summary>
    public IReadOnlyList<string> CreatedDirectories => _created;

    /// <summary>Each distinct directory once, in key order (co-mounted controllers share one).</summary>
    public IReadOnlyList<string> Directories => _paths.Values.Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Computes the container's directories. <paramref name="cgroupsPath"/> is linux.cgroupsPath: absolute →
    /// below each hierarchy's mount point; relative → below the caller's own cgroup in each hierarchy (which may
    /// differ per hierarchy); null or empty → the relative path "<paramref name="id"/>", as runc does.
    /// On a v1 or hybrid host the devices hierarchy must be mounted: without it the container's device access
    /// could not be restricted (runc refuses too).
    /// </summary>
    public static CgroupManager ForContainer(CgroupHost host, string id, string? cgroupsPath, ICgroupFs? fs = null,
        IDeviceFilterAttacher? deviceFilter = null)
    {
        var (inner, absolute) = CgroupPath.Resolve(id, cgroupsPath);
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var hierarchy in host.Hierarchies)
        {
            if (host.Mode == CgroupMode.V2 && !hierarchy.IsV2)
                continue;
            string dir = CgroupPath.Join(absolute ? hierarchy.MountPoint : hierarchy.CallerDirectory, inner);
            foreach (string key in hierarchy.Keys(host.Mode))
                paths.TryAdd(key, dir);
        }
        if (host.Mode != CgroupMode.V2 && !paths.ContainsKey(DevicesKey))
            throw new CgroupException(
                $"container {id}: the cgroup v1 devices controller is not mounted (checked /proc/self/mountinfo); " +
                "device access could not be restricted");
        return new CgroupManager(host.Mode, paths, [], fs ?? StatfsCgroupFs.Instance, deviceFilter);
    }

    /// <summary>Rebuilds a manager from saved <see cref="Paths"/> (and <see cref="CreatedDirectories"/>, if saved).</summary>
    public static CgroupManager Load(IReadOnlyDictionary<string, string> paths, IEnumerable<string>? createdDirectories = null,
        ICgroupFs? fs = null, IDeviceFilterAttacher? deviceFilter = null)
    {
        foreach (var (key, dir) in paths)
        {
            if (!dir.StartsWith('/') || dir.Split('/').Contains(".."))
                throw new CgroupException($"saved cgroup path {key}={dir} is not an absolute path without \"..\"");
        }
        var created = createdDirectories?.ToList() ?? [];
        foreach (string dir in created)
        {
            // Only the paths themselves and their ancestors can have been made by Create.
            if (!paths.Values.Any(p => p == dir || p.StartsWith(dir + "/", StringComparison.Ordinal)))
                throw new CgroupException($"saved created cgroup directory {dir} is not one of the paths or their parents");
        }
        var mode = paths.ContainsKey(V2Key) ? CgroupMode.V2
            : paths.ContainsKey(HybridUnifiedKey) ? CgroupMode.Hybrid : CgroupMode.V1;
        return new CgroupManager(mode, new Dictionary<string, string>(paths, StringComparer.Ordinal),
            created, fs ?? StatfsCgroupFs.Instance, deviceFilter);
    }

    /// <summary>
    /// The directories <see cref="Create"/> would make now: the missing ones of every path, parents first. A caller
    /// records them before it calls Create, so that a process killed halfway through leaves a record of what to remove.
    /// </summary>
    public IReadOnlyList<string> MissingDirectories()
    {
        var missing = new List<string>();
        foreach (string dir in Directories)
        {
            var components = Components(dir);
            for (int i = FirstMissing(components); i < components.Count; i++)
                if (!missing.Contains(components[i])) missing.Add(components[i]);
        }
        return missing;
    }

    /// <summary>"/a", "/a/b", "/a/b/c" for "/a/b/c": the directories a mkdir -p of it goes through.</summary>
    static List<string> Components(string dir)
    {
        var components = new List<string>();
        string current = "";
        foreach (string segment in dir.Split('/', StringSplitOptions.RemoveEmptyEntries))
            components.Add(current += "/" + segment);
        return components;
    }

    /// <summary>
    /// The index of the first of <paramref name="components"/> that does not exist (their count when all do), looked
    /// for from the leaf up: a directory that exists has all its ancestors, so a container's cgroup in ten hierarchies
    /// costs two stats per hierarchy instead of one per path component (five on /sys/fs/cgroup/cpu/id).
    /// </summary>
    static int FirstMissing(List<string> components)
    {
        int first = components.Count;
        while (first > 0 && !Directory.Exists(components[first - 1])) first--;
        return first;
    }

    /// <summary>
    /// mkdir -p of every directory. Each missing component is made only after its parent is checked to be on a
    /// cgroup filesystem, and each final directory is checked too (an existing plain directory is refused). On
    /// failure, the directories this call made are removed again. Before anything is made, a frozen cgroup (or
    /// a frozen parent of one to be made) is refused, as runc refuses it: a process placed there would stop
    /// before it could report back. Every v1 cpuset ancestor of the container's cgroup, made here or found, gets
    /// its parent's cpus and mems where it has none (v1 refuses tasks below a cpuset without them); the
    /// container's own cpuset gets them in <see cref="AddProcess"/>, after <see cref="Apply"/> wrote its own.
    /// </summary>
    public void Create()
    {
        RefuseFrozen();
        var made = new List<string>();
        try
        {
            foreach (var (key, dir) in _paths)
            {
                MakeDirectories(dir, made);
                RequireCgroupFs(dir, $"cgroup directory {dir}");
                if (key == CpusetKey)
                    FillCpusetAncestors(dir);
            }
        }
        catch
        {
            for (int i = made.Count - 1; i >= 0; i--)
                _ = Libc.unlinkat(Libc.AT_FDCWD, made[i], Libc.AT_REMOVEDIR);
            throw;
        }
        _created.AddRange(made);
    }

    /// <summary>
    /// Applies <paramref name="resources"/> to a new container. Devices: on v1 (and hybrid) "a" to devices.deny,
    /// then each rule in order; on a pure v2 host the rules become an eBPF device filter (<see cref="DeviceFilter"/>)
    /// attached to the container's directory after the other writes. Every other field goes through
    /// <see cref="V1ResourcePlan"/> or <see cref="V2ResourcePlan"/>: all refusals happen before the first write, and a
    /// write the kernel refuses names the field, the value and the file.
    /// </summary>
    /// <remarks>
    /// On a hybrid host the v1 devices controller enforces the rules, and no filter goes on the cgroup2 directory
    /// (joined for tracking only), as with runc: the kernel would check a second copy of the same policy on every
    /// open, and each container would pay a program load for nothing.
    /// </remarks>
    public void Apply(CheckedResources checkedResources, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(checkedResources);
        var resources = checkedResources.Spec;
        var rules = resources.Devices;
        var filter = Mode == CgroupMode.V2 ? DeviceFilter.Compile(rules) : null; // validates every rule
        var plan = PlanWrites(resources, update: false, warn);
        if (Mode != CgroupMode.V2)
        {
            if (!_paths.TryGetValue(DevicesKey, out string? dir))
                throw new CgroupException("linux.resources.devices: no devices cgroup among the container's paths");
            var writes = DeviceRules.V1Writes(rules); // validates every rule before the first write
            RequireCgroupFs(dir, $"devices cgroup {dir}");
            foreach (var write in writes)
                WriteFile(Path.Combine(dir, write.File), write.Value);
        }
        Execute(plan);
        if (filter is not null)
        {
            string dir = _paths[V2Key];
            RequireCgroupFs(dir, $"cgroup directory {dir}");
            try
            {
                _deviceFilter.Attach(dir, filter);
            }
            catch (CgroupException e)
            {
                throw new CgroupException($"linux.resources.devices: {e.Message}", e) { Errno = e.Errno };
            }
        }
    }

    /// <summary><see cref="Apply(CheckedResources, Action{string}?)"/> of resources checked here.</summary>
    /// <exception cref="CgroupException">A value no host takes, before anything is written.</exception>
    public void Apply(LinuxResources? resources, Action<string>? warn = null) => Apply(CheckedResources.ForCreate(resources), warn);

    /// <summary>
    /// Changes the limits of an existing container (`update`). Device rules are not touched (as runc's update);
    /// memory.checkBeforeUpdate refuses a limit below the current usage.
    /// </summary>
    public void Update(CheckedResources resources, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(resources);
        Execute(PlanWrites(resources.Spec, update: true, warn));
    }

    /// <summary><see cref="Update(CheckedResources, Action{string}?)"/> of resources checked here.</summary>
    /// <exception cref="CgroupException">A value no host takes, before anything is written.</exception>
    public void Update(LinuxResources resources, Action<string>? warn = null) => Update(CheckedResources.ForUpdate(resources), warn);

    /// <summary>
    /// The refusals of <see cref="Apply(CheckedResources, Action{string}?)"/> that need only this host and the
    /// container's paths, made before its directories exist, so that `create` refuses before it makes anything:
    /// `unified` on a v1 or hybrid host, fields cgroup v2 has no file for, a controller that is not mounted, a
    /// huge page size the host lacks. What needs the container's own files (memsw without swap accounting, a
    /// blkio weight file) is still found by Apply, which then removes what the create made.
    /// </summary>
    public void Preflight(CheckedResources resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (Mode == CgroupMode.V2)
            V2ResourcePlan.Plan(resources.Spec, _paths[V2Key]);
        else
            V1ResourcePlan.Plan(resources.Spec, _paths, preflight: true);
    }

    List<ResourceWrite> PlanWrites(LinuxResources resources, bool update, Action<string>? warn)
    {
        // Ignored, as runc 1.1 ignores them (with its words): configs from older generators carry them, and kernels
        // since 5.16 have deprecated kmem limits (cgroup v2 never had them).
        if (resources.Memory is { } memory && (memory.Kernel is not null || memory.KernelTCP is not null))
            warn?.Invoke("Kernel memory settings are ignored and will be removed " +
                $"(linux.resources.memory.kernel {memory.Kernel?.ToString(CultureInfo.InvariantCulture) ?? "unset"}, " +
                $"kernelTCP {memory.KernelTCP?.ToString(CultureInfo.InvariantCulture) ?? "unset"})");
        if (Mode != CgroupMode.V2)
        {
            var v1 = V1ResourcePlan.Plan(resources, _paths, update);
            // hugetlb on a hybrid host's cgroup2 hierarchy (see V1ResourcePlan): enabled from its root down.
            var hugetlb = v1.Where(w => w.Key == HybridUnifiedKey && w.File.StartsWith("hugetlb.", StringComparison.Ordinal)).ToList();
            if (hugetlb.Count > 0)
            {
                string unified = _paths[HybridUnifiedKey];
                EnableControllers(unified, ["hugetlb"]);
                // Checked here, before the device writes, so that this refusal too comes before any limit is set.
                foreach (var w in hugetlb.Where(w => !File.Exists(Path.Combine(unified, w.File))))
                    throw new CgroupException($"{w.Field}: {Path.Combine(unified, w.File)} does not exist although hugetlb is enabled for {unified}");
            }
            return v1;
        }
        string dir = _paths[V2Key];
        var (writes, controllers) = V2ResourcePlan.Plan(resources, dir, update);
        EnableControllers(dir, controllers);
        return writes;
    }

    /// <summary>
    /// cgroup v2 offers a controller's files in a cgroup only when every ancestor enables it in
    /// cgroup.subtree_control. Walks up while the parent is still on the cgroup filesystem (to the mount root),
    /// then enables what is missing top-down, one write per directory.
    /// </summary>
    void EnableControllers(string dir, IReadOnlyCollection<string> controllers)
    {
        if (controllers.Count == 0)
            return;
        var ancestors = new List<string>();
        for (string? parent = Path.GetDirectoryName(dir); parent is not null && _fs.IsCgroupFs(parent); parent = Path.GetDirectoryName(parent))
        {
            ancestors.Add(parent);
            if (!File.Exists(Path.Combine(parent, "cgroup.subtree_control")))
                break;
        }
        ancestors.Reverse();
        var enabledAbove = new List<string>(); // the kernel offers what the parent enables: count it before re-reading
        foreach (string ancestor in ancestors)
        {
            string controlFile = Path.Combine(ancestor, "cgroup.subtree_control");
            if (!File.Exists(controlFile))
                continue;
            var enabled = ReadFile(controlFile).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var available = ReadFile(Path.Combine(ancestor, "cgroup.controllers"))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Union(enabledAbove).ToList();
            var missing = controllers.Where(c => !enabled.Contains(c)).ToList();
            enabledAbove = [.. controllers];
            if (missing.Count == 0)
                continue;
            var absent = missing.Where(c => !available.Contains(c)).ToList();
            if (absent.Count > 0)
                throw new CgroupException(
                    $"the {string.Join(", ", absent)} controller{(absent.Count > 1 ? "s are" : " is")} not available in {ancestor} " +
                    $"(cgroup.controllers: \"{string.Join(' ', available)}\"), needed for the container's resources");
            WriteFile(controlFile, string.Join(' ', missing.Select(c => "+" + c)));
        }
    }

    /// <summary>Performs planned writes in order; see <see cref="ResourceWrite"/> for the read-back and retry flags.</summary>
    void Execute(IReadOnlyList<ResourceWrite> writes)
    {
        for (int i = 0; i < writes.Count; i++)
        {
            var w = writes[i];
            try
            {
                Write(w);
            }
            catch (CgroupException) when (w.RetryAfterNext && i + 1 < writes.Count)
            {
                Write(writes[i + 1]);
                Write(w);
                i++;
            }
        }
    }

    void Write(ResourceWrite w)
    {
        string dir = _paths[w.Key];
        string path = Path.Combine(dir, w.File);
        try
        {
            RequireCgroupFs(dir, $"cgroup directory {dir}");
            if (!File.Exists(path))
                throw new CgroupException($"{path} does not exist (is its controller enabled for this cgroup?)") { Errno = Errno.ENOENT };
            WriteFile(path, w.Value);
        }
        catch (CgroupException e)
        {
            throw new CgroupException($"{w.Field}: {e.Message}", e) { Errno = e.Errno };
        }
        if (w.VerifyReadBack && ReadFile(path).Trim() is var actual && actual != w.Value)
            throw new CgroupException($"{w.Field}: wrote {w.Value} to {path}, but the kernel set {actual} (out of its range)");
    }

    static readonly TimeSpan FreezeBudget = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Freezes every process of the container, nested cgroups included: the v1 freezer (FROZEN, re-written
    /// while the kernel reports FREEZING, as a task that forks meanwhile can keep it there), or cgroup.freeze on
    /// cgroup v2 until cgroup.events says "frozen 1". Gives up after a few seconds, thawing again, and says so.
    /// </summary>
    public void Freeze()
    {
        if (FreezerFile() is { } v1)
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                WriteFile(v1, "FROZEN");
                if (ReadFile(v1).Trim() == "FROZEN")
                    return;
                if (clock.Elapsed > FreezeBudget)
                {
                    TryWrite(v1, "THAWED");
                    throw new CgroupException($"{v1} stayed FREEZING for {FreezeBudget.TotalSeconds:0} s; thawed the container again");
                }
                Thread.Sleep(clock.ElapsedMilliseconds < 100 ? 1 : 10);
            }
        }
        SetV2Frozen(true);
    }

    /// <summary>Thaws what <see cref="Freeze"/> froze (THAWED, or cgroup.freeze 0 until "frozen 0").</summary>
    public void Thaw()
    {
        if (FreezerFile() is { } v1)
        {
            WriteFile(v1, "THAWED");
            return;
        }
        SetV2Frozen(false);
    }

    /// <summary>Whether the container's cgroup is frozen (or freezing); false when its cgroup is gone.</summary>
    public bool IsFrozen()
    {
        try
        {
            if (FreezerFile() is { } v1)
                return ReadFile(v1).Trim() is "FROZEN" or "FREEZING";
            return V2FreezeDirectory() is { } dir && File.Exists(Path.Combine(dir, "cgroup.freeze"))
                && ReadFile(Path.Combine(dir, "cgroup.freeze")).Trim() == "1";
        }
        catch (CgroupException)
        {
            return false;
        }
    }

    string? FreezerFile()
    {
        if (!_paths.TryGetValue(FreezerKey, out string? dir))
            return null;
        string file = Path.Combine(dir, "freezer.state");
        RequireCgroupFs(dir, $"freezer cgroup {dir}");
        return file;
    }

    /// <summary>The cgroup2 directory that can freeze the container: a pure v2 host's, or a hybrid host's without a v1 freezer.</summary>
    string? V2FreezeDirectory() => Cgroup2Directory();

    /// <summary>The container's cgroup2 directory: a pure v2 host's, or a hybrid host's unified one; null on pure v1.</summary>
    string? Cgroup2Directory() =>
        _paths.TryGetValue(V2Key, out string? v2) ? v2 : _paths.TryGetValue(HybridUnifiedKey, out string? unified) ? unified : null;

    void SetV2Frozen(bool frozen)
    {
        string dir = V2FreezeDirectory() ?? throw new CgroupException(
            "cannot freeze: the container has neither a v1 freezer cgroup nor a cgroup2 directory");
        RequireCgroupFs(dir, $"cgroup directory {dir}");
        string freeze = Path.Combine(dir, "cgroup.freeze"), events = Path.Combine(dir, "cgroup.events");
        if (!File.Exists(freeze))
            throw new CgroupException($"cannot {(frozen ? "freeze" : "thaw")}: {freeze} does not exist (kernel older than 5.2?)");
        WriteFile(freeze, frozen ? "1" : "0");
        string want = frozen ? "frozen 1" : "frozen 0";
        var clock = Stopwatch.StartNew();
        while (!ReadFile(events).Split('\n').Any(line => line.Trim() == want))
        {
            if (clock.Elapsed > FreezeBudget)
            {
                if (frozen)
                    TryWrite(freeze, "0");
                throw new CgroupException($"{events} did not report \"{want}\" within {FreezeBudget.TotalSeconds:0} s" +
                    (frozen ? "; thawed the container again" : ""));
            }
            Thread.Sleep(clock.ElapsedMilliseconds < 100 ? 1 : 10);
        }
    }

    /// <summary>The container's statistics from its cgroup files (runc's `events --stats` shape).</summary>
    public CgroupStats Stats() => StatsReader.Read(_paths);

    /// <summary>
    /// SIGKILLs every process of the container and its nested cgroups at once through cgroup.kill (cgroup v2,
    /// kernel 5.14+; also the cgroup2 directory of a hybrid host), which no fork can race. Returns false when
    /// there is no such file, so that the caller signals pid by pid. A v1-frozen container is thawed after, so
    /// that the kill takes effect.
    /// </summary>
    public bool TryKillAll()
    {
        if (V2FreezeDirectory() is not { } dir || !_fs.IsCgroupFs(dir) || !File.Exists(Path.Combine(dir, "cgroup.kill")))
            return false;
        WriteFile(Path.Combine(dir, "cgroup.kill"), "1");
        if (_paths.ContainsKey(FreezerKey) && IsFrozen())
            Thaw();
        return true;
    }

    /// <summary>
    /// Moves <paramref name="pid"/> (the whole thread group) into every directory (see <see cref="ReadyForProcesses"/>).
    /// </summary>
    public void AddProcess(int pid)
    {
        string value = pid.ToString(CultureInfo.InvariantCulture);
        foreach (string dir in ReadyForProcesses())
            WriteFile(Path.Combine(dir, "cgroup.procs"), value);
    }

    /// <summary>
    /// The files through which a new process places itself in every directory (see <see cref="CgroupPlacement"/>),
    /// each directory readied as for <see cref="AddProcess"/>.
    /// </summary>
    public CgroupPlacement OpenPlacement()
    {
        string? v2 = Cgroup2Directory();
        return CgroupPlacement.Open([.. ReadyForProcesses().Select(dir => (dir, dir == v2))]);
    }

    /// <summary>
    /// Every directory, each checked to be on a cgroup filesystem. A v1 cpuset directory whose cpus or mems are still
    /// empty gets its parent's first (as runc does before it writes a pid): v1 refuses tasks there.
    /// </summary>
    List<string> ReadyForProcesses()
    {
        _paths.TryGetValue(CpusetKey, out string? cpuset);
        var ready = new List<string>();
        foreach (string dir in Directories)
        {
            RequireCgroupFs(dir, $"cgroup directory {dir}");
            if (dir == cpuset)
                FillCpusetFromParent(dir);
            ready.Add(dir);
        }
        return ready;
    }

    /// <summary>
    /// The processes in the container's directories (and below them) before the container put any there: a
    /// cgroupsPath may name a cgroup that others use. Every hierarchy is read, not one (a process may have been
    /// placed in some of them only). <paramref name="missing"/>, what <see cref="MissingDirectories"/> returned just
    /// before, spares a lookup of each directory known not to exist (a new container's cgroup: ten on a v1 host).
    /// </summary>
    public IReadOnlyList<int> ProcessesAlreadyThere(IReadOnlyList<string>? missing = null)
    {
        var pids = new SortedSet<int>();
        foreach (string dir in Directories)
            if (missing is null || !missing.Contains(dir))
                CollectPids(dir, pids);
        return [.. pids];
    }

    /// <summary>
    /// The processes in the container's cgroup and its nested cgroups, from the cgroup2 directory when there is
    /// one (it sees every process regardless of v1 quirks), else from a v1 one. Empty once the directory is gone.
    /// </summary>
    public IReadOnlyList<int> Pids()
    {
        string? dir = _paths.TryGetValue(V2Key, out string? v2) ? v2
            : _paths.TryGetValue(HybridUnifiedKey, out string? unified) ? unified
            : _paths.Values.FirstOrDefault();
        var pids = new SortedSet<int>();
        if (dir is not null)
            CollectPids(dir, pids);
        return [.. pids];
    }

    /// <summary>
    /// Removes the container's directories, nested cgroups first. A directory that <see cref="Create"/> made and
    /// that stays busy has its processes killed (cgroup.kill on v2, else SIGKILL to each pid in cgroup.procs, after
    /// thawing a v1 freezer) and is retried for up to about a second. A directory that existed before the container
    /// (a cgroupsPath naming a shared cgroup) is only removed if it empties: what is left there is not the
    /// container's to kill (its own processes went with its init, or <c>Container</c> killed them by mount
    /// namespace), and staying busy is not an error, as with runc. Parents that <see cref="Create"/> made are
    /// removed too when empty. A directory that is not on a cgroup filesystem is left alone. Throws, listing every
    /// directory that could not be removed, after trying them all; a missing directory is not an error.
    /// </summary>
    public void Destroy()
    {
        var clock = Stopwatch.StartNew();
        var failures = new Dictionary<string, (string Reason, int Errno)>(StringComparer.Ordinal);
        var leaves = Directories;
        var ours = leaves.Where(_created.Contains).ToList();
        bool InShared(string dir) => !ours.Any(o => dir == o || dir.StartsWith(o + "/", StringComparison.Ordinal));
        while (true)
        {
            failures.Clear();
            foreach (string dir in leaves)
                RemoveTree(dir, failures);
            bool busy = failures.Any(f => f.Value.Errno == Errno.EBUSY && !InShared(f.Key));
            if (!busy || clock.Elapsed > DestroyBudget)
                break;
            KillAll(ours);
            Thread.Sleep(20);
        }
        foreach (string dir in failures.Keys.Where(d => failures[d].Errno is Errno.EBUSY or Errno.ENOTEMPTY && InShared(d)).ToList())
            failures.Remove(dir);

        // Parents we made, deepest first; others may still use them (a shared "/berth" parent), so busy is fine.
        foreach (string dir in _created.Where(d => !leaves.Contains(d)).OrderByDescending(d => d.Length))
        {
            if (!Directory.Exists(dir))
                continue;
            if (!_fs.IsCgroupFs(dir))
            {
                failures[dir] = ("not on a cgroup filesystem, left alone", 0);
                continue;
            }
            if (Libc.unlinkat(Libc.AT_FDCWD, dir, Libc.AT_REMOVEDIR) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno is not (Errno.ENOENT or Errno.EBUSY or Errno.ENOTEMPTY))
                    failures[dir] = (LinuxException.Describe(errno), errno);
            }
        }
        _created.RemoveAll(d => !Directory.Exists(d));

        if (failures.Count > 0)
            throw new CgroupException("could not remove cgroup directories: " +
                string.Join("; ", failures.Select(f => $"{f.Key} ({f.Value.Reason})")))
            { Errno = failures.Values.First().Errno };
    }

    void MakeDirectories(string dir, List<string> made)
    {
        var components = Components(dir);
        for (int i = FirstMissing(components); i < components.Count; i++)
        {
            string parent = i == 0 ? "/" : components[i - 1], current = components[i];
            RequireCgroupFs(parent, $"cannot create {current}: its parent {parent}");
            if (Libc.mkdirat(Libc.AT_FDCWD, current, 0x1ed /* 0755 */) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Errno.EEXIST)
                    continue; // made concurrently by someone else: not ours to remove
                throw new CgroupException($"mkdir {current}: {LinuxException.Describe(errno)}") { Errno = errno };
            }
            made.Add(current);
        }
    }

    /// <summary>
    /// Refuses a container directory that is frozen (v1 freezer.state FROZEN or FREEZING, cgroup2 cgroup.freeze 1),
    /// or, when it does not exist yet, whose nearest existing ancestor is (a child of a frozen cgroup is born frozen).
    /// runc 1.1.5 checks the container's own cgroup ("container's cgroup unexpectedly frozen").
    /// </summary>
    void RefuseFrozen()
    {
        foreach (var (key, leaf) in _paths)
        {
            bool v1 = key == FreezerKey, v2 = key is V2Key or HybridUnifiedKey;
            if (!v1 && !v2)
                continue;
            string? dir = leaf;
            while (dir is not null && !Directory.Exists(dir))
                dir = Path.GetDirectoryName(dir);
            if (dir is null || !_fs.IsCgroupFs(dir))
                continue;
            string? why = v1 ? FrozenV1(dir) : FrozenV2(dir, dir == leaf);
            if (why is null)
                continue;
            throw new CgroupException(dir == leaf
                ? $"the container's cgroup {dir} is frozen ({why}): a process placed there could not run; thaw it or give another linux.cgroupsPath"
                : $"the container's cgroup {leaf} would be made below the frozen cgroup {dir} ({why}), where a process could not run; " +
                  "thaw it or give another linux.cgroupsPath");
        }
    }

    static string? FrozenV1(string dir)
    {
        string file = Path.Combine(dir, "freezer.state");
        string state = File.Exists(file) ? ReadFile(file).Trim() : "";
        return state is "FROZEN" or "FREEZING" ? $"freezer.state {state}" : null;
    }

    /// <summary>The container's own directory is frozen once cgroup.freeze asks for it; any other by what cgroup.events reports.</summary>
    static string? FrozenV2(string dir, bool own)
    {
        string freeze = Path.Combine(dir, "cgroup.freeze"), events = Path.Combine(dir, "cgroup.events");
        if (own && File.Exists(freeze) && ReadFile(freeze).Trim() == "1")
            return "cgroup.freeze 1";
        return File.Exists(events) && ReadFile(events).Split('\n').Any(l => l.Trim() == "frozen 1") ? "cgroup.events: frozen 1" : null;
    }

    /// <summary>
    /// Fills, top-down from the hierarchy's root, each ancestor of <paramref name="leaf"/> whose cpus or mems are
    /// empty with its parent's (runc's cpusetEnsureParent): a pod-style parent someone else made with
    /// cgroup.clone_children off has none, and no task could then run anywhere below it.
    /// </summary>
    void FillCpusetAncestors(string leaf)
    {
        var ancestors = new List<string>();
        for (string? dir = Path.GetDirectoryName(leaf); dir is not null && Path.GetDirectoryName(dir) is { } parent && _fs.IsCgroupFs(parent); dir = parent)
            ancestors.Add(dir);
        ancestors.Reverse();
        foreach (string dir in ancestors)
            FillCpusetFromParent(dir);
    }

    void FillCpusetFromParent(string dir)
    {
        string parent = Path.GetDirectoryName(dir)!;
        foreach (string file in (string[])["cpuset.cpus", "cpuset.mems"])
        {
            string own = Path.Combine(dir, file);
            if (!File.Exists(own) || ReadFile(own).Trim().Length > 0)
                continue;
            string from = Path.Combine(parent, file);
            string value = ReadFile(from).Trim();
            if (value.Length == 0)
                throw new CgroupException($"{own} is empty and so is its parent's {from}: no task can run in that cpuset");
            WriteFile(own, value);
        }
    }

    void RequireCgroupFs(string dir, string what)
    {
        if (!_fs.IsCgroupFs(dir))
            throw new CgroupException(Directory.Exists(dir)
                ? $"{what} is not on a cgroup filesystem (statfs magic is neither cgroup nor cgroup2); refusing to write there"
                : $"{what} does not exist (is that cgroup hierarchy mounted?)")
            { Errno = Directory.Exists(dir) ? 0 : Errno.ENOENT };
    }

    /// <summary>One write(2) per value: cgroup files take one rule or pid per write.</summary>
    static unsafe void WriteFile(string path, string value)
    {
        int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new CgroupException($"open {path} to write \"{value}\": {LinuxException.Describe(errno)}") { Errno = errno };
        }
        using var handle = new Fd(fd);
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        nint written;
        fixed (byte* p = bytes)
            written = Libc.write(fd, p, bytes.Length);
        if (written < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new CgroupException($"writing {value} to {path}: {LinuxException.Describe(errno)}") { Errno = errno };
        }
        if (written != bytes.Length)
            throw new CgroupException($"writing {value} to {path}: short write ({written} of {bytes.Length} bytes)");
    }

    static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new CgroupException($"read {path}: {e.Message}", e);
        }
    }

    void CollectPids(string dir, SortedSet<int> pids)
    {
        if (!Directory.Exists(dir) || !_fs.IsCgroupFs(dir))
            return;
        string procs = Path.Combine(dir, "cgroup.procs");
        string text;
        try
        {
            text = File.Exists(procs) ? File.ReadAllText(procs) : "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // removed while we looked
        }
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                pids.Add(pid);
        }
        foreach (string child in SafeSubdirectories(dir))
            CollectPids(child, pids);
    }

    static IEnumerable<string> SafeSubdirectories(string dir)
    {
        try
        {
            return Directory.GetDirectories(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Post-order rmdir of a cgroup and its nested cgroups; records what is left and why.</summary>
    void RemoveTree(string dir, Dictionary<string, (string Reason, int Errno)> failures)
    {
        if (!Directory.Exists(dir))
            return;
        if (!_fs.IsCgroupFs(dir))
        {
            failures[dir] = ("not on a cgroup filesystem, left alone", 0);
            return;
        }
        foreach (string child in SafeSubdirectories(dir))
            RemoveTree(child, failures);
        if (Libc.unlinkat(Libc.AT_FDCWD, dir, Libc.AT_REMOVEDIR) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Errno.ENOENT)
                failures[dir] = (LinuxException.Describe(errno), errno);
        }
    }

    /// <summary>Kills whatever still keeps one of <paramref name="dirs"/> (directories the container made) busy.
    /// Never signals the calling process itself.</summary>
    void KillAll(IReadOnlyList<string> dirs)
    {
        if (_paths.TryGetValue(FreezerKey, out string? freezer) && dirs.Contains(freezer) && File.Exists(Path.Combine(freezer, "freezer.state")))
            TryWrite(Path.Combine(freezer, "freezer.state"), "THAWED"); // a frozen v1 task cannot act on SIGKILL
        foreach (string dir in dirs)
        {
            if (File.Exists(Path.Combine(dir, "cgroup.kill")))
                TryWrite(Path.Combine(dir, "cgroup.kill"), "1");
        }
        var pids = new SortedSet<int>();
        foreach (string dir in dirs)
            CollectPids(dir, pids);
        int self = Environment.ProcessId;
        foreach (int pid in pids)
        {
            if (pid != self)
                _ = Libc.kill(pid, Libc.SIGKILL);
        }
    }

    void TryWrite(string path, string value)
    {
        try
        {
            if (_fs.IsCgroupFs(Path.GetDirectoryName(path)!))
                WriteFile(path, value);
        }
        catch (CgroupException)
        {
            // best effort while tearing down: the retry loop reports what stays
        }
    }
}
