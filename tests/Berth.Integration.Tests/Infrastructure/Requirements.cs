using Xunit.Abstractions;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>Preconditions that turn a test into a skip (with the reason printed) instead of a failure.</summary>
public static class Requirements
{
    public static void Root(ITestOutputHelper output)
    {
        if (Environment.IsPrivilegedProcess)
            return;
        const string reason = "integration tests need root (they create namespaces, mounts and cgroups)";
        output.WriteLine("SKIPPED: " + reason);
        throw new SkipException(reason);
    }
}
