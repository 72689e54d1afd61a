using System.Runtime.InteropServices;

namespace Berth.Linux;

// bpf(2) has no glibc wrapper: it goes through syscall(2). Only what a cgroup device filter needs: load a
// BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to a cgroup2 directory, list and detach the ones there.
public static unsafe partial class Libc
{
    public const long SYS_bpf = 321; // x86_64

    public const int BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_DETACH = 9, BPF_PROG_GET_FD_BY_ID = 13,
        BPF_PROG_QUERY = 16;

    public const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    public const uint BPF_CGROUP_DEVICE = 6; // enum bpf_attach_type
    public const uint BPF_F_ALLOW_OVERRIDE = 1, BPF_F_ALLOW_MULTI = 2, BPF_F_REPLACE = 4;

    /// <summary>struct bpf_cgroup_dev_ctx.access_type: the low 16 bits hold the device type, the high 16 the access.</summary>
    public const int BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2;
    public const int BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4;

    /// <summary>The BPF_PROG_LOAD part of union bpf_attr, up to expected_attach_type (the kernel zero-fills the rest).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgLoadAttr
    {
        public uint ProgType;
        public uint InsnCnt;
        public ulong Insns;
        public ulong License;
        public uint LogLevel;
        public uint LogSize;
        public ulong LogBuf;
        public uint KernVersion;
        public uint ProgFlags;
        public fixed byte ProgName[16];
        public uint ProgIfindex;
        public uint ExpectedAttachType;
    }

    /// <summary>The BPF_PROG_ATTACH / BPF_PROG_DETACH part of union bpf_attr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfAttachAttr
    {
        public uint TargetFd;
        public uint AttachBpfFd;
        public uint AttachType;
        public uint AttachFlags;
        public uint ReplaceBpfFd;
    }

    /// <summary>The BPF_PROG_QUERY part of union bpf_attr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfQueryAttr
    {
        public uint TargetFd;
        public uint AttachType;
        public uint QueryFlags;
        public uint AttachFlags;
        public ulong ProgIds;
        public uint ProgCnt;
        public uint Padding;
    }

    /// <summary>The BPF_PROG_GET_FD_BY_ID part of union bpf_attr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfGetFdByIdAttr
    {
        public uint ProgId;
        public uint NextId;
        public uint OpenFlags;
    }

    /// <summary>bpf(cmd, attr, size): the result (an fd for loads) or -1 with errno.</summary>
    public static long bpf(int cmd, void* attr, uint size) => syscall(SYS_bpf, cmd, (long)attr, size, 0, 0);
}
