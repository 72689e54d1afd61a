namespace Berth.Oci;

/// <summary>
/// What a runtime sends to linux.seccomp.listenerPath with the seccomp notify fd (runtime-spec config-linux.md,
/// "The Container Process State"): <see cref="Fds"/> names the fds attached to the message, in order.
/// </summary>
public sealed class ContainerProcessState
{
    /// <summary>The name of the seccomp notify fd in <see cref="Fds"/>.</summary>
    public const string SeccompFdName = "seccompFd";

    public string OciVersion { get; set; } = SpecVersion.Current;
    public List<string> Fds { get; set; } = [];
    public int Pid { get; set; }
    /// <summary>linux.seccomp.listenerMetadata, passed through as is.</summary>
    public string? Metadata { get; set; }
    public State State { get; set; } = new();
}
