using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;

namespace Berth.Cgroups;

/// <summary>Puts a device filter program on a cgroup2 directory. Unit tests substitute a recorder.</summary>
public interface IDeviceFilterAttacher
{
    /// <summary>Loads <paramref name="program"/> and makes it the only device filter Berth keeps on <paramref name="cgroupDir"/>.</summary>
    void Attach(string cgroupDir, IReadOnlyList<BpfInstruction> program);
}

/// <summary>
/// bpf(2): BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program, BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI (as
/// runc does, so that programs a parent cgroup carries keep applying), then BPF_PROG_DETACH of the programs the
/// directory had before: applying again (a second create step, an update) replaces the filter. While both are
/// attached a device must pass both, so the switch never lets through what either denies.
/// </summary>
public sealed unsafe class BpfDeviceFilterAttacher : IDeviceFilterAttacher
{
    public static readonly BpfDeviceFilterAttacher Instance = new();

    const int LogSize = 64 * 1024;
    static readonly byte[] License = "Apache-2.0\0"u8.ToArray(); // no GPL-only helpers are called
    static readonly byte[] Name = "berth_devices"u8.ToArray();

    public void Attach(string cgroupDir, IReadOnlyList<BpfInstruction> program)
    {
        int dirFd = Libc.open(cgroupDir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
            throw Error("open", cgroupDir);
        using var dir = new Fd(dirFd);
        var previous = AttachedPrograms(dir, cgroupDir);
        using var prog = Load(program, cgroupDir);

        var attach = new Libc.BpfAttachAttr
        {
            TargetFd = (uint)dir.Value, AttachBpfFd = (uint)prog.Value,
            AttachType = Libc.BPF_CGROUP_DEVICE, AttachFlags = Libc.BPF_F_ALLOW_MULTI,
        };
        if (Libc.bpf(Libc.BPF_PROG_ATTACH, &attach, (uint)sizeof(Libc.BpfAttachAttr)) < 0)
            throw Error("bpf(BPF_PROG_ATTACH) of the device filter", cgroupDir);

        foreach (uint id in previous)
        {
            var byId = new Libc.BpfGetFdByIdAttr { ProgId = id };
            long fd = Libc.bpf(Libc.BPF_PROG_GET_FD_BY_ID, &byId, (uint)sizeof(Libc.BpfGetFdByIdAttr));
            if (fd < 0)
            {
                if (Marshal.GetLastPInvokeError() == Errno.ENOENT)
                    continue; // detached meanwhile
                throw Error($"bpf(BPF_PROG_GET_FD_BY_ID) of device filter {id}", cgroupDir);
            }
            using var old = new Fd((int)fd);
            var detach = new Libc.BpfAttachAttr { TargetFd = (uint)dir.Value, AttachBpfFd = (uint)old.Value, AttachType = Libc.BPF_CGROUP_DEVICE };
            if (Libc.bpf(Libc.BPF_PROG_DETACH, &detach, (uint)sizeof(Libc.BpfAttachAttr)) < 0 && Marshal.GetLastPInvokeError() != Errno.ENOENT)
                throw Error($"bpf(BPF_PROG_DETACH) of the previous device filter {id}", cgroupDir);
        }
    }

    /// <summary>The ids of the device programs attached to the directory itself (not inherited ones).</summary>
    public static IReadOnlyList<uint> AttachedPrograms(string cgroupDir)
    {
        int dirFd = Libc.open(cgroupDir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
            throw Error("open", cgroupDir);
        using var dir = new Fd(dirFd);
        return AttachedPrograms(dir, cgroupDir);
    }

    static List<uint> AttachedPrograms(Fd dir, string cgroupDir)
    {
        for (uint capacity = 8; ; capacity *= 4)
        {
            var ids = new uint[capacity];
            fixed (uint* p = ids)
            {
                var query = new Libc.BpfQueryAttr { TargetFd = (uint)dir.Value, AttachType = Libc.BPF_CGROUP_DEVICE, ProgIds = (ulong)p, ProgCnt = capacity };
                if (Libc.bpf(Libc.BPF_PROG_QUERY, &query, (uint)sizeof(Libc.BpfQueryAttr)) >= 0)
                    return ids.Take((int)query.ProgCnt).ToList();
                if (Marshal.GetLastPInvokeError() != Errno.ENOSPC || capacity > 4096)
                    throw Error("bpf(BPF_PROG_QUERY) of device filters", cgroupDir);
            }
        }
    }

    static Fd Load(IReadOnlyList<BpfInstruction> program, string cgroupDir)
    {
        var words = program.Select(i => i.Encode()).ToArray();
        var log = new byte[LogSize];
        fixed (ulong* insns = words)
        fixed (byte* license = License)
        fixed (byte* logBuf = log)
        {
            var attr = new Libc.BpfProgLoadAttr
            {
                ProgType = Libc.BPF_PROG_TYPE_CGROUP_DEVICE, InsnCnt = (uint)words.Length,
                Insns = (ulong)insns, License = (ulong)license, ExpectedAttachType = Libc.BPF_CGROUP_DEVICE,
            };
            for (int i = 0; i < Name.Length; i++)
                attr.ProgName[i] = Name[i];
            long fd = Libc.bpf(Libc.BPF_PROG_LOAD, &attr, (uint)sizeof(Libc.BpfProgLoadAttr));
            if (fd >= 0)
                return new Fd((int)fd);
            int errno = Marshal.GetLastPInvokeError();
            // Load again with the verifier's log, only to explain the failure.
            attr.LogLevel = 1;
            attr.LogSize = LogSize;
            attr.LogBuf = (ulong)logBuf;
            _ = Libc.bpf(Libc.BPF_PROG_LOAD, &attr, (uint)sizeof(Libc.BpfProgLoadAttr));
            string verifier = Encoding.UTF8.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
            throw new CgroupException(
                $"bpf(BPF_PROG_LOAD) of the device filter for {cgroupDir} ({words.Length} instructions): {LinuxException.Describe(errno)}" +
                (verifier.Length > 0 ? $"; verifier: {verifier}" : ""))
            { Errno = errno };
        }
    }

    static CgroupException Error(string what, string cgroupDir)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new CgroupException($"{what} for {cgroupDir}: {LinuxException.Describe(errno)}") { Errno = errno };
    }
}
