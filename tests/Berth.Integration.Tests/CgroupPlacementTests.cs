using Berth.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Berth.Integration.Tests;

/// <summary>
/// Where linux.cgroupsPath puts the container, read from the host in /proc/PID/cgroup of its running process:
/// absolute paths from each hierarchy's root, relative ones (and the default, the id) below the caller's cgroup.
/// </summary>
public sealed class CgroupPlacementTests(ITestOutputHelper output) : ContainerTest(output)
{
    /// <summary>/proc/PID/cgroup as "hierarchy-id:controllers" → path (v1 lines and the "0::" v2 line).</summary>
    private static Dictionary<string, string> ReadCgroups(string file) =>
        File.ReadAllLines(file).Where(l => l.Length > 0).ToDictionary(
            l => l[..l.LastIndexOf(':')],
            l => l[(l.LastIndexOf(':') + 1)..]);

    private static string Join(string parent, string child) => parent.TrimEnd('/') + "/" + child;

    /// <summary>Creates and starts a sleeping container with <paramref name="cgroupsPath"/>; returns its cgroups.</summary>
    private Dictionary<string, string> StartWithCgroupsPath(string? cgroupsPath)
    {
        var spec = Specs.Default("sleep", "1000");
        if (cgroupsPath is not null)
            spec.Linux()["cgroupsPath"] = cgroupsPath;
        var create = Create(spec);
        Assert.True(create.Succeeded, "create failed: " + create);
        var start = Runtime.Run("start", Id);
        Assert.True(start.Succeeded, "start failed: " + start);
        return ReadCgroups($"/proc/{Pid()}/cgroup");
    }

    private void DeleteAndAssertClean()
    {
        var delete = Runtime.Run("delete", "--force", Id);
        Assert.True(delete.Succeeded, "delete --force failed: " + delete);
        Leaks.AssertClean();
    }

    /// <summary>Removes (rmdir) leftover parent cgroups named <paramref name="name"/>; returns the ones that were there.</summary>
    private static List<string> RemoveParents(string name)
    {
        var found = LeakCheck.CgroupDirectoriesNamed(name);
        foreach (var dir in found.OrderByDescending(d => d.Length))
        {
            try
            {
                Directory.Delete(dir, recursive: false);
            }
            catch (IOException)
            {
                // busy: reported by the caller's assertion
            }
        }
        return found;
    }

    [SkippableFact]
    public void AbsoluteCgroupsPath_IsUsedInEveryHierarchy()
    {
        var parent = "berth-test-" + Id;
        var path = $"/{parent}/{Id}";
        try
        {
            var cgroups = StartWithCgroupsPath(path);

            Assert.NotEmpty(cgroups);
            Assert.Contains("0:", cgroups.Keys); // the cgroup2 ("0::") line
            Assert.All(cgroups, c => Assert.True(c.Value == path, $"{c.Key} is {c.Value}, expected {path}"));
            DeleteAndAssertClean();
        }
        finally
        {
            RemoveParents(parent);
        }
    }

    [SkippableFact]
    public void RelativeCgroupsPath_IsBelowTheCallersCgroupInEachHierarchy()
    {
        var caller = ReadCgroups("/proc/self/cgroup");
        var parent = "sub-" + Id;
        try
        {
            var cgroups = StartWithCgroupsPath($"{parent}/{Id}");

            Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
            Assert.All(cgroups, c => Assert.Equal(Join(caller[c.Key], $"{parent}/{Id}"), c.Value));
            DeleteAndAssertClean();
        }
        finally
        {
            RemoveParents(parent);
        }
    }

    [SkippableFact]
    public void DefaultCgroupsPath_IsTheIdBelowTheCallersCgroup()
    {
        var caller = ReadCgroups("/proc/self/cgroup");

        var cgroups = StartWithCgroupsPath(null);

        Assert.Equal(caller.Keys.Order(), cgroups.Keys.Order());
        Assert.All(cgroups, c => Assert.Equal(Join(caller[c.Key], Id), c.Value));
        DeleteAndAssertClean();
    }

    // runc 1.1.5 removes only the container's own directory and leaves the parents it created.
    [SkippableTheory]
    [Trait("runc-compatible", "false")]
    [InlineData(true)]
    [InlineData(false)]
    public void ParentCgroupsTheRuntimeCreated_AreRemovedOnDelete(bool absolute)
    {
        var parent = (absolute ? "berth-test-" : "sub-") + Id;
        Assert.Empty(LeakCheck.CgroupDirectoriesNamed(parent));
        var cgroups = StartWithCgroupsPath(absolute ? $"/{parent}/{Id}" : $"{parent}/{Id}");
        Assert.All(cgroups.Values, p => Assert.Contains($"/{parent}/", p));

        DeleteAndAssertClean();

        var left = RemoveParents(parent);
        Assert.True(left.Count == 0, "parent cgroups left after delete: " + string.Join(", ", left));
    }
}
