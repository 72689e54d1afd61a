using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Seccomp;

namespace Berth.Runtime;

/// <summary>
/// A process's config and the container's seccomp filter as spawn.c's <c>struct berth_process_setup</c>, in native
/// memory: the spawn stage of `exec` reads it in a clone that may not allocate, and init hands it to
/// <see cref="Libc.berth_process_setup"/>. Both apply the same sequence, written once in C: rlimits, umask, the filter
/// (early without no_new_privs), the bounding set, groups and ids, capabilities, no_new_privs, the cwd.
/// </summary>
internal sealed unsafe class NativeProcessSetup : IDisposable
{
    readonly NativeStrings _strings = new();
    readonly List<nint> _blocks = [];
    readonly string _cwd;

    /// <param name="skipSetgroups">setgroups is "deny" in the user namespace: an empty group list is then honoured by
    /// not calling setgroups, as runc does (a non-empty one still fails, naming why).</param>
    /// <param name="umask">The umask to set, or null to keep the caller's.</param>
    /// <param name="listenerFd">With SCMP_ACT_NOTIFY rules: the socket the listener fd is sent on as soon as the
    /// filter is in place (the next calls may already wait for the agent); -1 otherwise.</param>
    /// <param name="rootFd">`exec`: an O_PATH fd of the container's root, which the stage chroots into; -1 for init.</param>
    public NativeProcessSetup(ProcessConfig process, SeccompFilter? filter, bool skipSetgroups, uint? umask, int listenerFd,
        int rootFd = -1, bool setControllingTerminal = false)
    {
        _cwd = process.Cwd;
        var caps = process.Capabilities;
        var s = Alloc<SpawnProcessSetup>(1);
        *s = new SpawnProcessSetup
        {
            RootFd = rootFd,
            Uid = (int)process.Uid,
            Gid = (int)process.Gid,
            GidCount = process.AdditionalGids.Count,
            SkipSetgroups = skipSetgroups && process.AdditionalGids.Count == 0 ? 1 : 0,
            RlimitCount = process.Rlimits.Count,
            HasCaps = caps is null ? 0 : 1,
            CapLastCap = LastCapability(),
            NoNewPrivs = process.NoNewPrivileges ? 1 : 0,
            Umask = umask is { } u ? (int)u : -1,
            SeccompFlags = filter?.Flags ?? 0,
            SeccompLength = filter?.Program.Length ?? 0,
            SetControllingTerminal = setControllingTerminal ? 1 : 0,
            ListenerFd = listenerFd,
            CapBounding = caps?.Bounding ?? 0,
            CapEffective = caps?.Effective ?? 0,
            CapInheritable = caps?.Inheritable ?? 0,
            CapPermitted = caps?.Permitted ?? 0,
            CapAmbient = caps?.Ambient ?? 0,
            Gids = Copy(process.AdditionalGids.ToArray()),
            Rlimits = Copy(process.Rlimits.Select(r => new SpawnRlimit { Resource = r.Resource, Cur = r.Soft, Max = r.Hard }).ToArray()),
            SeccompFilter = filter is null ? null : Copy(filter.Program),
            Cwd = _strings.String(process.Cwd),
        };
        Pointer = s;
    }

    public SpawnProcessSetup* Pointer { get; }

    /// <summary>Init: applies the sequence to the calling thread (the one that execs), failing with the step's cause.</summary>
    public void Apply()
    {
        SpawnError error;
        if (Libc.berth_process_setup(Pointer, &error) < 0) throw Failure(error);
    }

    /// <summary>Init: with no_new_privs, installs the filter now, as close to execve as init can.</summary>
    public void InstallLateFilter()
    {
        SpawnError error;
        if (Libc.berth_install_late_filter(Pointer, &error) < 0) throw Failure(error);
    }

    ContainerException Failure(SpawnError error) => SpawnFailure.Describe("container init", error, [], _cwd);

    /// <summary>The highest capability this kernel knows (runc's CAP_LAST_CAP), at most 63.</summary>
    public static int LastCapability()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), out int last) ? Math.Min(last, 63) : Capabilities.Last;
        }
        catch (IOException)
        {
            return Capabilities.Last;
        }
    }

    T* Alloc<T>(int count) where T : unmanaged
    {
        var p = (T*)NativeMemory.AllocZeroed((nuint)Math.Max(1, count), (nuint)sizeof(T));
        _blocks.Add((nint)p);
        return p;
    }

    T* Copy<T>(T[] values) where T : unmanaged
    {
        var p = Alloc<T>(values.Length);
        values.CopyTo(new Span<T>(p, values.Length));
        return p;
    }

    public void Dispose()
    {
        foreach (var p in _blocks) NativeMemory.Free((void*)p);
        _blocks.Clear();
        _strings.Dispose();
    }
}
