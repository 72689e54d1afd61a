using Berth.Oci;

namespace Berth.Cgroups.Tests;

public class HugetlbTests
{
    [Theory]
    [InlineData(2048L, "2MB")]
    [InlineData(1048576L, "1GB")]
    [InlineData(64L, "64KB")]
    [InlineData(32768L, "32MB")]
    public void SizesAreNamedAsTheControllerNamesItsFiles(long kb, string name) => Assert.Equal(name, HugePageSizes.Name(kb));

    [Fact]
    public void OnlyTheHostsSizesPass()
    {
        var sys = Directory.CreateTempSubdirectory("berth-hugepages-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(sys, "hugepages-2048kB"));
            Directory.CreateDirectory(Path.Combine(sys, "hugepages-1048576kB"));
            Assert.Equal(["2MB", "1GB"], HugePageSizes.Supported(sys));
            Assert.Equal("1GB", HugePageSizes.Check("1GB", "f", sys));

            var e = Assert.Throws<CgroupException>(() => HugePageSizes.Check("64KB", "linux.resources.hugepageLimits[0].pageSize", sys));
            Assert.Equal($"linux.resources.hugepageLimits[0].pageSize \"64KB\" is not a huge page size of this host (it has 2MB, 1GB, from {sys})", e.Message);
            e = Assert.Throws<CgroupException>(() => HugePageSizes.Check("2 MB", "f", sys));
            Assert.Contains("is not a page size such as 2MB", e.Message);
            e = Assert.Throws<CgroupException>(() => HugePageSizes.Check("2MB", "f", Path.Combine(sys, "missing")));
            Assert.Contains("offers no huge pages", e.Message);
        }
        finally
        {
            Directory.Delete(sys, recursive: true);
        }
    }

    [Fact]
    public void OnAHybridHostWithoutV1Hugetlb_TheLimitGoesToTheCgroup2Directory_WithTheControllerEnabledFromTheRoot()
    {
        string size = HugePageSizes.Supported().FirstOrDefault()
            ?? throw new InvalidOperationException("this test needs a kernel with huge pages (/sys/kernel/mm/hugepages)");
        using var tree = new TempCgroupTree();
        File.WriteAllText(tree["unified/cgroup.controllers"], "hugetlb");
        File.WriteAllText(tree["unified/cgroup.subtree_control"], "");
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs, new RecordingDeviceFilter());
        m.Create();
        File.WriteAllText(tree[$"unified/c1/hugetlb.{size}.max"], "");

        m.Update(new LinuxResources { HugepageLimits = [new LinuxHugepageLimit { PageSize = size, Limit = 4194304 }] });

        Assert.Equal("+hugetlb", File.ReadAllText(tree["unified/cgroup.subtree_control"]));
        Assert.Equal("4194304", File.ReadAllText(tree[$"unified/c1/hugetlb.{size}.max"]));
    }

    [Fact]
    public void OnAHybridHostWhoseCgroup2LacksHugetlb_TheRefusalNamesTheHierarchy()
    {
        string size = HugePageSizes.Supported().FirstOrDefault()
            ?? throw new InvalidOperationException("this test needs a kernel with huge pages (/sys/kernel/mm/hugepages)");
        using var tree = new TempCgroupTree();
        File.WriteAllText(tree["unified/cgroup.controllers"], "");
        File.WriteAllText(tree["unified/cgroup.subtree_control"], "");
        var m = CgroupManager.ForContainer(tree.Host, "c1", "/c1", tree.Fs, new RecordingDeviceFilter());
        m.Create();

        var e = Assert.Throws<CgroupException>(() =>
            m.Update(new LinuxResources { HugepageLimits = [new LinuxHugepageLimit { PageSize = size, Limit = 4194304 }] }));

        Assert.Contains($"the hugetlb controller is not available in {tree["unified"]}", e.Message);
    }
}
