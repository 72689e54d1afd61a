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
}
