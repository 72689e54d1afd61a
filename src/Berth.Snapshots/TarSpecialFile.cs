using System.Formats.Tar;
using Berth.Linux;

namespace Berth.Snapshots;

/// <summary>A tar entry of a device or a FIFO as mknod(2) takes it: the file type bits and the device number.</summary>
public static class TarSpecialFile
{
    public static (uint Type, ulong Device) Node(TarEntry entry)
    {
        var posix = (PosixTarEntry)entry;
        uint type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => Libc.S_IFCHR,
            TarEntryType.BlockDevice => Libc.S_IFBLK,
            _ => Libc.S_IFIFO,
        };
        return (type, type == Libc.S_IFIFO ? 0 : Libc.makedev((uint)posix.DeviceMajor, (uint)posix.DeviceMinor));
    }
}
