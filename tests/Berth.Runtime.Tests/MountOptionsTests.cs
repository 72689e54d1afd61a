using Berth.Oci;
using Berth.Runtime.Configs;
using static Berth.Linux.Libc;

namespace Berth.Runtime.Tests;

public class MountOptionsTests
{
    public static TheoryData<string, ulong> SetWords => new()
    {
        { "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV }, { "noexec", MS_NOEXEC },
        { "sync", MS_SYNCHRONOUS }, { "dirsync", MS_DIRSYNC }, { "remount", MS_REMOUNT }, { "mand", MS_MANDLOCK },
        { "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME }, { "relatime", MS_RELATIME },
        { "strictatime", MS_STRICTATIME }, { "nosymfollow", MS_NOSYMFOLLOW }, { "bind", MS_BIND },
        { "rbind", MS_BIND | MS_REC }, { "silent", MS_SILENT }, { "iversion", MS_I_VERSION }, { "lazytime", MS_LAZYTIME },
    };

    public static TheoryData<string, ulong> ClearWords => new()
    {
        { "rw", MS_RDONLY }, { "suid", MS_NOSUID }, { "dev", MS_NODEV }, { "exec", MS_NOEXEC },
        { "async", MS_SYNCHRONOUS }, { "nomand", MS_MANDLOCK }, { "atime", MS_NOATIME }, { "diratime", MS_NODIRATIME },
        { "norelatime", MS_RELATIME }, { "nostrictatime", MS_STRICTATIME }, { "symfollow", MS_NOSYMFOLLOW },
        { "loud", MS_SILENT }, { "noiversion", MS_I_VERSION }, { "nolazytime", MS_LAZYTIME },
    };

    [Theory]
    [MemberData(nameof(SetWords))]
    public void FlagWordsSetTheirFlag(string word, ulong flag)
    {
        var p = MountOptions.Parse([word]);
        Assert.Equal(flag, p.Flags);
        Assert.Equal(0UL, p.ClearFlags);
        Assert.Equal("", p.Data);
    }

    [Theory]
    [MemberData(nameof(ClearWords))]
    public void ClearWordsClearTheirFlag(string word, ulong flag)
    {
        var p = MountOptions.Parse([word]);
        Assert.Equal(0UL, p.Flags);
        Assert.Equal(flag, p.ClearFlags);
    }

    [Fact]
    public void LaterWordWins()
    {
        var p = MountOptions.Parse(["ro", "rw"]);
        Assert.Equal(0UL, p.Flags & MS_RDONLY);
        Assert.Equal(MS_RDONLY, p.ClearFlags);

        p = MountOptions.Parse(["rw", "ro"]);
        Assert.Equal(MS_RDONLY, p.Flags);
        Assert.Equal(0UL, p.ClearFlags);
    }

    [Fact]
    public void PropagationWordsAreKeptInOrder()
    {
        var p = MountOptions.Parse(["rprivate", "shared", "slave", "rslave", "private", "rshared", "unbindable", "runbindable"]);
        Assert.Equal([MS_PRIVATE | MS_REC, MS_SHARED, MS_SLAVE, MS_SLAVE | MS_REC, MS_PRIVATE, MS_SHARED | MS_REC, MS_UNBINDABLE, MS_UNBINDABLE | MS_REC], p.Propagation);
        Assert.Equal(0UL, p.Flags);
    }

    [Fact]
    public void UnknownWordsBecomeDataInOrder()
    {
        var p = MountOptions.Parse(["nosuid", "mode=755", "strictatime", "size=65536k", "acl"]);
        Assert.Equal("mode=755,size=65536k,acl", p.Data);
        Assert.Equal(MS_NOSUID | MS_STRICTATIME, p.Flags);
    }

    [Fact]
    public void DefaultsMeansNothing()
    {
        var p = MountOptions.Parse(["defaults"]);
        Assert.Equal(0UL, p.Flags);
        Assert.Equal("", p.Data);
    }

    [Fact]
    public void BindAndRecursive()
    {
        Assert.True(MountOptions.Parse(["bind"]).Bind);
        Assert.False(MountOptions.Parse(["bind"]).Recursive);
        Assert.True(MountOptions.Parse(["rbind"]).Recursive);
        Assert.False(MountOptions.Parse(["nosuid"]).Bind);
    }

    [Fact]
    public void RecursiveAttributes()
    {
        var p = MountOptions.Parse(["rro", "rnosuid", "rdev"]);
        Assert.Equal(MountAttr.RDONLY | MountAttr.NOSUID, p.RecAttrSet);
        Assert.Equal(MountAttr.NODEV, p.RecAttrClr);
        Assert.Equal(0UL, p.Flags);

        // Setting an access-time mode needs the whole atime field cleared too (mount_setattr(2)).
        p = MountOptions.Parse(["rnoatime"]);
        Assert.Equal(MountAttr.NOATIME, p.RecAttrSet);
        Assert.Equal(MountAttr.ATIME_MASK, p.RecAttrClr);

        p = MountOptions.Parse(["rro", "rrw"]);
        Assert.Equal(0UL, p.RecAttrSet);
        Assert.Equal(MountAttr.RDONLY, p.RecAttrClr);
    }

    [Theory]
    [InlineData("idmap")]
    [InlineData("ridmap")]
    public void UnsupportedExtensionsAreRefused(string word)
    {
        var e = Assert.Throws<SpecException>(() => MountOptions.Parse(["bind", word]));
        Assert.Contains(word, e.Message);
        Assert.Contains("not supported", e.Message);
    }

    [Fact]
    public void TmpCopyUpIsAnExtension_NotFilesystemData()
    {
        var p = MountOptions.Parse(["tmpcopyup", "mode=700"]);
        Assert.True(p.CopyUp);
        Assert.Equal("mode=700", p.Data);
        Assert.False(MountOptions.Parse(["mode=700"]).CopyUp);
        Assert.Contains("tmpcopyup", MountOptions.Known);
    }

    [Fact]
    public void NullOptionsParseToNothing()
    {
        var p = MountOptions.Parse(null);
        Assert.Equal(0UL, p.Flags);
        Assert.Empty(p.Propagation);
        Assert.Equal("", p.Data);
    }
}
