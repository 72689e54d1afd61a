namespace Berth.Clients.Tests.Infrastructure;

/// <summary>The cgroup directories an engine made for the test's own cgroup parent, removed at the end.</summary>
public static class Cgroups
{
    /// <summary>
    /// Removes <paramref name="relativePath"/> and every cgroup below it in each mounted hierarchy, deepest first.
    /// Only empty cgroups can be removed: one still holding a process stays, and is returned as a leak.
    /// </summary>
    public static IReadOnlyList<string> RemoveEverywhere(string relativePath)
    {
        var left = new List<string>();
        foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup"))
        {
            var top = Path.Combine(hierarchy, relativePath.TrimStart('/'));
            if (!Directory.Exists(top))
                continue;
            var all = Directory.GetDirectories(top, "*", SearchOption.AllDirectories)
                .OrderByDescending(d => d.Length).Append(top);
            foreach (var dir in all)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    left.Add(dir);
                }
            }
        }
        return left;
    }
}
