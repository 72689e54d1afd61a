using Berth.Oci;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Configs;

/// <summary>
/// Splits a spec mount's options the way mount(2) wants them, after runc's option table: flag words set or clear
/// MS_* flags, propagation words become separate propagation calls, "r"-prefixed attribute words become
/// mount_setattr(2) recursive attributes, and everything else is filesystem data joined by ",".
/// </summary>
public static class MountOptions
{
    /// <param name="Flags">MS_* flags to pass to mount(2).</param>
    /// <param name="ClearFlags">Flags an option asked to clear ("rw", "suid", ...): a bind remount must drop them.</param>
    /// <param name="Propagation">MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), applied in order after the mount.</param>
    /// <param name="Data">Filesystem-specific options ("mode=755,size=65536k").</param>
    /// <param name="RecAttrSet">MOUNT_ATTR_* to set recursively ("rro", "rnosuid", ...), 0 if none.</param>
    /// <param name="RecAttrClr">MOUNT_ATTR_* to clear recursively ("rrw", "rsuid", ...), 0 if none.</param>
    /// <param name="CopyUp">"tmpcopyup": a tmpfs starts with a copy of what the directory it covers held.</param>
    public sealed record Parsed(ulong Flags, ulong ClearFlags, IReadOnlyList<ulong> Propagation, string Data,
        ulong RecAttrSet, ulong RecAttrClr, bool CopyUp = false)
    {
        public bool Bind => (Flags & MS_BIND) != 0;
        public bool Recursive => (Flags & MS_REC) != 0;
    }

    // (clear, flag): clear=true means the word undoes the flag ("rw" undoes MS_RDONLY).
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> Flags = new(StringComparer.Ordinal)
    {
        ["async"] = (true, MS_SYNCHRONOUS),
        ["atime"] = (true, MS_NOATIME),
        ["bind"] = (false, MS_BIND),
        ["dev"] = (true, MS_NODEV),
        ["diratime"] = (true, MS_NODIRATIME),
        ["dirsync"] = (false, MS_DIRSYNC),
        ["exec"] = (true, MS_NOEXEC),
        ["iversion"] = (false, MS_I_VERSION),
        ["lazytime"] = (false, MS_LAZYTIME),
        ["loud"] = (true, MS_SILENT),
        ["mand"] = (false, MS_MANDLOCK),
        ["noatime"] = (false, MS_NOATIME),
        ["nodev"] = (false, MS_NODEV),
        ["nodiratime"] = (false, MS_NODIRATIME),
        ["noexec"] = (false, MS_NOEXEC),
        ["noiversion"] = (true, MS_I_VERSION),
        ["nolazytime"] = (true, MS_LAZYTIME),
        ["nomand"] = (true, MS_MANDLOCK),
        ["norelatime"] = (true, MS_RELATIME),
        ["nostrictatime"] = (true, MS_STRICTATIME),
        ["nosuid"] = (false, MS_NOSUID),
        ["nosymfollow"] = (false, MS_NOSYMFOLLOW),
        ["rbind"] = (false, MS_BIND | MS_REC),
        ["relatime"] = (false, MS_RELATIME),
        ["remount"] = (false, MS_REMOUNT),
        ["ro"] = (false, MS_RDONLY),
        ["rw"] = (true, MS_RDONLY),
        ["silent"] = (false, MS_SILENT),
        ["strictatime"] = (false, MS_STRICTATIME),
        ["suid"] = (true, MS_NOSUID),
        ["sync"] = (false, MS_SYNCHRONOUS),
        ["symfollow"] = (true, MS_NOSYMFOLLOW),
    };

    private static readonly Dictionary<string, ulong> PropagationFlags = new(StringComparer.Ordinal)
    {
        ["private"] = MS_PRIVATE,
        ["rprivate"] = MS_PRIVATE | MS_REC,
        ["slave"] = MS_SLAVE,
        ["rslave"] = MS_SLAVE | MS_REC,
        ["shared"] = MS_SHARED,
        ["rshared"] = MS_SHARED | MS_REC,
        ["unbindable"] = MS_UNBINDABLE,
        ["runbindable"] = MS_UNBINDABLE | MS_REC,
    };

    private static readonly Dictionary<string, (bool Clear, ulong Attr)> RecAttrs = new(StringComparer.Ordinal)
    {
        ["rro"] = (false, MountAttr.RDONLY),
        ["rrw"] = (true, MountAttr.RDONLY),
        ["rnosuid"] = (false, MountAttr.NOSUID),
        ["rsuid"] = (true, MountAttr.NOSUID),
        ["rnodev"] = (false, MountAttr.NODEV),
        ["rdev"] = (true, MountAttr.NODEV),
        ["rnoexec"] = (false, MountAttr.NOEXEC),
        ["rexec"] = (true, MountAttr.NOEXEC),
        ["rnodiratime"] = (false, MountAttr.NODIRATIME),
        ["rdiratime"] = (true, MountAttr.NODIRATIME),
        ["rrelatime"] = (false, MountAttr.RELATIME),
        ["rnorelatime"] = (true, MountAttr.RELATIME),
        ["rnoatime"] = (false, MountAttr.NOATIME),
        ["ratime"] = (true, MountAttr.NOATIME),
        ["rstrictatime"] = (false, MountAttr.STRICTATIME),
        ["rnostrictatime"] = (true, MountAttr.STRICTATIME),
        ["rnosymfollow"] = (false, MountAttr.NOSYMFOLLOW),
        ["rsymfollow"] = (true, MountAttr.NOSYMFOLLOW),
    };

    /// <summary>Options runc knows that Berth does not implement yet; refused rather than passed to the fs as data.</summary>
    public static readonly IReadOnlyList<string> Unsupported = ["idmap", "ridmap"];

    /// <summary>podman's extension (runc and crun have it): copy the covered directory's contents into a new tmpfs.</summary>
    public const string TmpCopyUp = "tmpcopyup";

    /// <summary>Every option word this parser gives a meaning to (for `features`).</summary>
    public static IEnumerable<string> Known =>
        Flags.Keys.Concat(PropagationFlags.Keys).Concat(RecAttrs.Keys).Append("defaults").Append(TmpCopyUp).Order(StringComparer.Ordinal);

    /// <exception cref="SpecException">An option in <see cref="Unsupported"/>.</exception>
    public static Parsed Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, clear = 0, attrSet = 0, attrClr = 0;
        bool copyUp = false;
        var propagation = new List<ulong>();
        var data = new List<string>();
        foreach (var o in options ?? [])
        {
            if (Flags.TryGetValue(o, out var f))
            {
                // Later words win: "ro,rw" ends read-write with MS_RDONLY in ClearFlags.
                if (f.Clear) { flags &= ~f.Flag; clear |= f.Flag; }
                else { flags |= f.Flag; clear &= ~f.Flag; }
            }
            else if (PropagationFlags.TryGetValue(o, out var p))
            {
                propagation.Add(p);
            }
            else if (RecAttrs.TryGetValue(o, out var a))
            {
                if (a.Clear) { attrClr |= a.Attr; attrSet &= ~a.Attr; }
                else
                {
                    attrSet |= a.Attr; attrClr &= ~a.Attr;
                    // mount_setattr(2): an access-time mode is set only together with MOUNT_ATTR__ATIME in attr_clr.
                    if ((a.Attr & MountAttr.ATIME_MASK) == a.Attr)
                        attrClr |= MountAttr.ATIME_MASK;
                }
            }
            else if (o == TmpCopyUp)
            {
                copyUp = true;
            }
            else if (Unsupported.Contains(o))
            {
                throw new SpecException($"mount option \"{o}\" is not supported yet");
            }
            else if (o != "defaults")
            {
                // runc passes "defaults" on as fs data, which tmpfs and others then reject; it means "no options".
                data.Add(o);
            }
        }
        return new Parsed(flags, clear, propagation, string.Join(",", data), attrSet, attrClr, copyUp);
    }

    /// <summary>A propagation word ("rslave", ...) to its MS_* flags.</summary>
    public static bool TryGetPropagation(string name, out ulong flags) => PropagationFlags.TryGetValue(name, out flags);
}

/// <summary>mount_setattr(2) attribute bits (linux/mount.h).</summary>
public static class MountAttr
{
    public const ulong RDONLY = 0x1, NOSUID = 0x2, NODEV = 0x4, NOEXEC = 0x8, ATIME_MASK = 0x70, RELATIME = 0x0,
        NOATIME = 0x10, STRICTATIME = 0x20, NODIRATIME = 0x80, IDMAP = 0x100000, NOSYMFOLLOW = 0x200000;
}
