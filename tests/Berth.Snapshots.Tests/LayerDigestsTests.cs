using System.Diagnostics;
using Berth.Snapshots;

namespace Berth.Snapshots.Tests;

public class LayerDigestsTests
{
    const string A = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
    const string B = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
    const string C = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    [Fact]
    public void ChainId_of_a_base_layer_is_its_diffId()
    {
        Assert.Equal(A, LayerDigests.ChainId(null, A));
        Assert.Equal(A, LayerDigests.ChainId([A]));
    }

    [Fact]
    public void ChainId_matches_sha256sum_of_parent_space_diffId()
    {
        // sha256sum, a tool of its own, computes the spec's formula for two and three layers.
        string ab = "sha256:" + Sha256Sum($"{A} {B}");
        Assert.Equal(ab, LayerDigests.ChainId(A, B));
        string abc = "sha256:" + Sha256Sum($"{ab} {C}");
        Assert.Equal(abc, LayerDigests.ChainId([A, B, C]));
        Assert.NotEqual(LayerDigests.ChainId([A, B]), LayerDigests.ChainId([B, A]));
    }

    [Theory]
    [InlineData("sha256:ABCD")]
    [InlineData("sha512:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4")]
    [InlineData("sha256:A3ED95CAEB02FFE68CDD9FD84406680AE93D633CB16422D00E8A7C22955B46D4")]
    [InlineData("a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4")]
    [InlineData("sha256:../../../../etc/passwd000000000000000000000000000000000000000000")]
    public void Invalid_digests_are_refused_by_name(string digest)
    {
        var e = Assert.Throws<ArgumentException>(() => LayerDigests.ChainId(null, digest));
        Assert.Contains(digest, e.Message);
        Assert.Contains("diffID", e.Message);
    }

    static string Sha256Sum(string input)
    {
        var psi = new ProcessStartInfo("sha256sum") { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output.Split(' ')[0];
    }
}
