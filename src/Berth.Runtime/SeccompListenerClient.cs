using System.Text.Json;
using Berth.Linux;
using Berth.Oci;

namespace Berth.Runtime;

/// <summary>
/// Hands a container's seccomp notify fd to the agent at linux.seccomp.listenerPath, as runc does: one message
/// on a fresh connection, the container process state as JSON with the fd attached (SCM_RIGHTS), then the
/// connection closes. The caller closes its own copy of the fd afterwards, so the agent holds the only one.
/// </summary>
public static class SeccompListenerClient
{
    // One line of compact JSON, like runc's: agents read it with a single recvmsg.
    static readonly OciJsonContext Compact = new(new JsonSerializerOptions(OciJsonContext.Default.Options) { WriteIndented = false });

    /// <param name="processPid">The process whose filter it is, when not the container's init (an exec'd process).</param>
    public static void Send(LinuxSeccomp profile, Oci.State state, Fd notifyFd, int? processPid = null)
    {
        string path = profile.ListenerPath ?? throw new ContainerException("linux.seccomp.listenerPath is not set, but the filter has SCMP_ACT_NOTIFY rules");
        var message = new ContainerProcessState
        {
            Fds = [ContainerProcessState.SeccompFdName],
            Pid = processPid ?? state.Pid,
            Metadata = string.IsNullOrEmpty(profile.ListenerMetadata) ? null : profile.ListenerMetadata,
            State = state,
        };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, Compact.ContainerProcessState);
        try
        {
            using var socket = UnixSocket.Connect(path);
            UnixSocket.SendFd(socket, notifyFd, json);
        }
        catch (Exception e) when (e is LinuxException or IOException)
        {
            throw new ContainerException($"sending the seccomp notify fd to the agent at {path} (linux.seccomp.listenerPath): {e.Message}", e);
        }
    }
}
