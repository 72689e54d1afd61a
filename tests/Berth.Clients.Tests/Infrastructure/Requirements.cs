using Xunit.Abstractions;

namespace Berth.Clients.Tests.Infrastructure;

/// <summary>Preconditions that turn a test into a skip (with the reason printed) instead of a failure.</summary>
public static class Requirements
{
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    public const string NotRootReason = "client tests need root (they start podman, containerd and dockerd)";

    public static void Root(ITestOutputHelper output)
    {
        if (IsRoot)
            return;
        output.WriteLine("SKIPPED: " + NotRootReason);
        throw new SkipException(NotRootReason);
    }

    /// <summary>A client missing from the host fails the test: test.sh installs them, so this is a broken setup.</summary>
    public static string Executable(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException($"{name} not found on PATH: install it (scripts/test.sh does, as root)");
    }
}
