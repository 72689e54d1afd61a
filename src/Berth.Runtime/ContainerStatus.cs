namespace Berth.Runtime;

/// <summary>The states of the OCI runtime spec (runtime.md), as `state` prints them.</summary>
public enum ContainerStatus { Creating, Created, Running, Paused, Stopped }

public static class ContainerStatusNames
{
    public static string ToOci(this ContainerStatus s) => s.ToString().ToLowerInvariant();
}
