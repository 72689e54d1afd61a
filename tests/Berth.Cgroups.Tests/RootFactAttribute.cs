using Berth.Linux;

namespace Berth.Cgroups.Tests;

/// <summary>A test that creates cgroups on the real host: skipped, with the reason shown, unless run as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Libc.geteuid() != 0)
            Skip = "needs root: creates and removes cgroups on the real host (run `dotnet test` as root)";
    }

    /// <summary>Also skipped, saying so, when the host has no cgroup2 mount (a pure v1 host).</summary>
    public bool NeedsCgroup2
    {
        get => false;
        init
        {
            if (value && Skip is null && CgroupHost.Detect().Unified is null)
                Skip = "needs a cgroup2 mount (this host has only cgroup v1 hierarchies)";
        }
    }
}
