using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// HOME, as runc sets it for init and for exec when the process env lacks it: the uid's home in the container's
/// /etc/passwd, else "/"; a HOME the spec gives stays.
/// </summary>
public sealed class HomeEnvTests(ITestOutputHelper output) : ContainerTest(output)
{
    void WritePasswd() =>
        File.WriteAllText(Bundle.InRootfs("/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n");

    [SkippableTheory]
    [InlineData(0, "/root")]
    [InlineData(1000, "/home/alice")]
    [InlineData(4242, "/")]
    public void Init_GetsTheHomeOfItsUid_FromTheContainersPasswd(int uid, string home)
    {
        Directory.CreateDirectory(Bundle.InRootfs("/etc"));
        WritePasswd();
        var spec = Specs.Shell("echo HOME=$HOME");
        spec.Process()["user"] = new JsonObject { ["uid"] = uid, ["gid"] = uid };

        Assert.Equal($"HOME={home}", RunShell(spec).Trim());
    }

    [SkippableFact]
    public void AHomeInTheSpec_Stays_AndNoPasswd_MeansSlash()
    {
        var given = Specs.Shell("echo HOME=$HOME");
        given.Process()["env"]!.AsArray().Add("HOME=/somewhere");
        Assert.Equal("HOME=/somewhere", RunShell(given).Trim());

        File.Delete(Bundle.InRootfs("/etc/passwd"));
        Assert.Equal("HOME=/", RunShell(Specs.Shell("echo HOME=$HOME")).Trim());
    }

    [SkippableFact]
    public void Exec_GetsTheHomeOfItsUser()
    {
        Directory.CreateDirectory(Bundle.InRootfs("/etc"));
        WritePasswd();
        var create = Create(Specs.Default("sleep", "100"));
        Assert.True(create.Succeeded, "create failed: " + create);
        Assert.True(Runtime.Run("start", Id).Succeeded, "start failed");

        var root = Runtime.Run("exec", Id, "sh", "-c", "echo HOME=$HOME");
        var alice = Runtime.Run("exec", "--user", "1000:1000", Id, "sh", "-c", "echo HOME=$HOME");

        Assert.True(root.Succeeded, root.ToString());
        Assert.Equal("HOME=/root", root.Stdout.Trim());
        Assert.True(alice.Succeeded, alice.ToString());
        Assert.Equal("HOME=/home/alice", alice.Stdout.Trim());
    }
}
