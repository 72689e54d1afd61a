using System.Reflection;
using System.Text;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Rootfs;
using static Berth.Linux.Libc;

// Usage: Berth.Rootfs.Probe ROOTFS WORKDIR SCRIPT [--userns] [--cgroupns] [--no-pivot] [--no-netns] [--locked DIR]
//        [--dev-ro] [--rprivate | --rshared] [--no-dev-mount] [--pure-v2] [--bad-fs | --proc-on-symlink | --bind-into-proc]
// Builds a ContainerConfig like runc's default spec plus test binds, runs RootfsBuilder inside the current
// (already unshared) namespaces, then execs "/bin/sh -c SCRIPT" inside the new root.

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Berth.Rootfs.Probe ROOTFS WORKDIR SCRIPT [--userns] [--cgroupns] [--no-pivot] [--no-netns] [--locked DIR]");
    return 2;
}
string rootfs = args[0], work = args[1], script = args[2];
var flags = args.Skip(3).ToList();
bool userns = flags.Contains("--userns"), cgroupns = flags.Contains("--cgroupns");
bool noPivot = flags.Contains("--no-pivot"), noNetns = flags.Contains("--no-netns");
int lockedAt = flags.IndexOf("--locked");
string? locked = lockedAt >= 0 ? flags[lockedAt + 1] : null;

Preload();

const ulong nosuid = MS_NOSUID, noexec = MS_NOEXEC, nodev = MS_NODEV;
var mounts = new List<MountConfig>
{
    new() { Destination = "/proc", Type = "proc", Source = "proc", Flags = nosuid | noexec | nodev },
    new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Flags = nosuid | MS_STRICTATIME | (flags.Contains("--dev-ro") ? MS_RDONLY : 0),
            Data = "mode=755,size=65536k" },
    new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Flags = nosuid | noexec,
            Data = userns ? "newinstance,ptmxmode=0666,mode=0620" : "newinstance,ptmxmode=0666,mode=0620,gid=5" },
    new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Flags = nosuid | noexec | nodev, Data = "mode=1777,size=65536k" },
    new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Flags = nosuid | noexec | nodev },
    new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Flags = nosuid | noexec | nodev | MS_RDONLY },
    new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Flags = nosuid | noexec | nodev | MS_RELATIME | MS_RDONLY },
    // Test binds: rw dir with its own propagation, ro dir, a file, through an absolute symlink to /etc, a ".." escape.
    new() { Destination = "/data", Type = "bind", Source = $"{work}/hostdir", Flags = MS_BIND | MS_REC, Propagation = [MS_PRIVATE | MS_REC] },
    new() { Destination = "/data-ro", Type = "bind", Source = $"{work}/hostdir", Flags = MS_BIND | MS_REC | MS_RDONLY | nosuid },
    new() { Destination = "/etc/hostfile", Type = "bind", Source = $"{work}/hostfile", Flags = MS_BIND },
    new() { Destination = "/escape/injected", Type = "bind", Source = $"{work}/hostdir", Flags = MS_BIND | MS_REC },
    new() { Destination = "/../../../escape2", Type = "bind", Source = $"{work}/hostdir", Flags = MS_BIND },
    new() { Destination = "/run", Type = "tmpfs", Source = "tmpfs", Flags = nosuid | nodev, Data = "mode=755" },
};
// Mounts that must be refused, one per run, to check the error messages.
if (flags.Contains("--bad-fs"))
    mounts.Add(new() { Destination = "/bad", Type = "nosuchfs", Source = "none" });
if (flags.Contains("--proc-on-symlink"))
    mounts.Add(new() { Destination = "/escape", Type = "proc", Source = "proc" });
if (flags.Contains("--bind-into-proc"))
    mounts.Add(new() { Destination = "/proc/sys/kernel", Type = "bind", Source = $"{work}/hostdir", Flags = MS_BIND });
if (flags.Contains("--no-dev-mount"))
    mounts.RemoveAll(m => m.Destination == "/dev");
if (locked is not null)
    mounts.Add(new() { Destination = "/locked", Type = "bind", Source = locked, Flags = MS_BIND | MS_RDONLY });

var namespaces = new List<NamespaceConfig> { new(NamespaceKind.Mount, null), new(NamespaceKind.Pid, null),
    new(NamespaceKind.Uts, null), new(NamespaceKind.Ipc, null) };
if (!noNetns) namespaces.Add(new(NamespaceKind.Network, null));
if (userns) namespaces.Add(new(NamespaceKind.User, null));
if (cgroupns) namespaces.Add(new(NamespaceKind.Cgroup, null));

var config = new ContainerConfig
{
    Rootfs = rootfs,
    ReadonlyRootfs = true,
    RootfsPropagation = flags.Contains("--rprivate") ? MS_PRIVATE | MS_REC : flags.Contains("--rshared") ? MS_SHARED | MS_REC : 0,
    Namespaces = namespaces,
    Mounts = mounts,
    Devices = [new("/dev/full", 'c', 1, 7, 0x180, 0, 0), new("/dev/fuse", 'c', 10, 229, 0x1B6, 0, 0)],
    MaskedPaths = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    Process = new ProcessConfig { Args = ["/bin/sh"], Cwd = "/" },
};

// --pure-v2: present this hybrid host's cgroup2 tree as if it were a pure v2 host.
var cgroups = CgroupSources();
if (flags.Contains("--pure-v2"))
    cgroups = cgroups.Where(c => c.IsV2).Select(c => c with { Name = "" }).ToList();
var builder = new RootfsBuilder(config, new RootfsOptions(noPivot, cgroups, cgroupns));
try
{
    builder.Prepare();
    Console.Error.WriteLine("probe: prepared");
    builder.EnterRoot();
    Console.Error.WriteLine("probe: entered root");
    builder.Finish();
    Console.Error.WriteLine("probe: finished");
}
catch (Exception e)
{
    Console.Error.WriteLine($"probe: FAILED: {e.GetType().Name}: {e.Message}");
    return 1;
}
return Exec("/bin/sh", ["sh", "-c", script], ["PATH=/bin"]);

// The hierarchies this process is in, as the lead's init would describe them.
static List<CgroupMountSource> CgroupSources()
{
    var list = new List<CgroupMountSource>();
    foreach (string line in File.ReadAllLines("/proc/self/cgroup"))
    {
        string[] f = line.Split(':', 3);
        if (f[1].Length == 0)
        {
            bool hybrid = Directory.Exists("/sys/fs/cgroup/unified");
            string mountPoint = hybrid ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
            list.Add(new(hybrid ? "unified" : "", mountPoint + f[2], true, ""));
            continue;
        }
        string name = f[1].StartsWith("name=") ? f[1]["name=".Length..] : f[1];
        if (Directory.Exists("/sys/fs/cgroup/" + name))
            list.Add(new(name, $"/sys/fs/cgroup/{name}{f[2]}", false, f[1]));
    }
    return list;
}

// After pivot_root the host's files are gone: load every assembly the run may touch while they are still there.
static void Preload()
{
    var seen = new HashSet<string>();
    var queue = new Queue<Assembly>([typeof(RootfsBuilder).Assembly, Assembly.GetExecutingAssembly()]);
    foreach (string extra in new[] { "System.Diagnostics.StackTrace", "System.Reflection.Metadata", "System.Collections.Immutable" })
        queue.Enqueue(Assembly.Load(extra));
    while (queue.TryDequeue(out Assembly? a))
        foreach (AssemblyName name in a.GetReferencedAssemblies())
            if (seen.Add(name.FullName)) queue.Enqueue(Assembly.Load(name));
    try { throw new InvalidOperationException("warm-up"); } catch (Exception e) { _ = e.ToString(); }
}

static unsafe int Exec(string path, string[] argv, string[] envp)
{
    static byte* Z(string s) { byte[] b = Encoding.UTF8.GetBytes(s + "\0"); byte* p = (byte*)System.Runtime.InteropServices.Marshal.AllocHGlobal(b.Length); b.AsSpan().CopyTo(new Span<byte>(p, b.Length)); return p; }
    byte** a = stackalloc byte*[argv.Length + 1];
    for (int i = 0; i < argv.Length; i++) a[i] = Z(argv[i]);
    a[argv.Length] = null;
    byte** e = stackalloc byte*[envp.Length + 1];
    for (int i = 0; i < envp.Length; i++) e[i] = Z(envp[i]);
    e[envp.Length] = null;
    execve(Z(path), a, e);
    Console.Error.WriteLine($"probe: execve {path}: {LinuxException.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
    return 127;
}
