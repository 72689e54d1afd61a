using System.Buffers.Binary;
using Berth.Linux;

namespace Berth.Runtime.Init;

/// <summary>
/// The socket between the runtime and `berth-runtime init`: length-prefixed messages (4-byte little-endian length)
/// in <see cref="InitWire"/>'s format. The same socket carried the spawn stage's one-byte handshake before init was
/// exec'd.
/// </summary>
public sealed class InitChannel(Fd socket) : IDisposable
{
    const int MaxMessage = 16 << 20;

    public Fd Socket { get; } = socket;

    public void Send(InitRequest request) => Send(InitWire.Encode(request));
    public void Send(InitReport report) => Send(InitWire.Encode(report));

    /// <summary>The request, or null when the peer closed the socket.</summary>
    public InitRequest? ReceiveRequest() => Receive() is { } body ? InitWire.DecodeRequest(body) : null;

    /// <summary>The next report, or null when the peer closed the socket.</summary>
    public InitReport? ReceiveReport() => Receive() is { } body ? InitWire.DecodeReport(body) : null;

    void Send(byte[] body)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, body.Length);
        Sys.WriteAll(Socket, header);
        Sys.WriteAll(Socket, body);
    }

    byte[]? Receive()
    {
        Span<byte> header = stackalloc byte[4];
        if (!Sys.ReadExactly(Socket, header)) return null;
        int length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length <= 0 || length > MaxMessage) throw new InvalidDataException($"init channel: bad message length {length}");
        byte[] body = new byte[length];
        if (!Sys.ReadExactly(Socket, body)) throw new InvalidDataException("init channel: message cut short");
        return body;
    }

    public void Dispose() => Socket.Dispose();
}

/// <summary>
/// What the runtime tells init: the config `create` validated and converted (init does not parse or check the spec
/// again), and the runtime-side facts it cannot compute itself.
/// </summary>
public sealed class InitRequest
{
    public required Configs.ContainerConfig Config { get; init; }
    /// <summary>process.consoleSize with process.terminal: the pty's rows and columns; null for the kernel's default.</summary>
    public ushort[]? ConsoleSize { get; init; }
    public required string Bundle { get; init; }
    public required string Id { get; init; }
    public bool NoPivot { get; init; }
    /// <summary>Join a fresh session keyring named after the container (runc's default; --no-new-keyring turns it off).</summary>
    public bool NewSessionKeyring { get; init; }
    /// <summary>O_PATH fd of exec.fifo inherited by init; -1 without a start barrier.</summary>
    public int FifoFd { get; init; } = -1;
    public int PreserveFds { get; init; }
    /// <summary>With process.terminal: the inherited fd of the connected console socket the pty master is sent on.</summary>
    public int ConsoleSocketFd { get; init; } = -1;
    public List<Rootfs.CgroupMountSource> Cgroups { get; init; } = [];
    /// <summary>The spec has prestart/createRuntime/createContainer/startContainer hooks: init stops after its mounts to let the runtime run its share.</summary>
    public bool Hooks { get; init; }
    /// <summary>linux.seccomp compiled by the runtime (null without a profile): init installs this, not the spec's profile.</summary>
    public SeccompProgram? Seccomp { get; init; }
    /// <summary>
    /// With SCMP_ACT_NOTIFY rules: the inherited fd of a socket of its own on which init sends the filter's listener
    /// fd the moment it has it (the calls after the filter may already wait for the agent); -1 otherwise.
    /// </summary>
    public int SeccompListenerFd { get; init; } = -1;
    /// <summary>Unshare the cgroup namespace (init is in the container's cgroups from its start: it is rooted there).</summary>
    public bool NewCgroupNamespace { get; init; }
    /// <summary>The runtime logs debug lines: init sends its own (<see cref="InitReport.Debug"/>) until "ready".</summary>
    public bool Debug { get; init; }
    /// <summary>Per spec mount, the inherited fd of a detached copy of its bind source the runtime opened (-1: none; see BindSources).</summary>
    public List<int> BindSourceFds { get; init; } = [];
}

/// <summary>What init reports back (warnings, a hooks break, then "ready" or "error" with the cause), and the runtime's answer to the hooks break.</summary>
public sealed class InitReport
{
    public required string Type { get; init; }
    public string? Message { get; init; }
    /// <summary>With HooksDone: the container's state, for the hooks init runs itself.</summary>
    public Oci.State? State { get; init; }

    public const string Ready = "ready", Error = "error", Warning = "warning";
    /// <summary>init → runtime: a DebugLog line, sent while the runtime has --debug (InitRequest.Debug).</summary>
    public const string Debug = "debug";
    /// <summary>init → runtime: mounts are done, run prestart and createRuntime hooks. runtime → init: HooksDone.</summary>
    public const string Hooks = "hooks", HooksDone = "hooks-done";
}

/// <summary>The filter the runtime compiled, so that init installs it without compiling the profile again.</summary>
public sealed class SeccompProgram
{
    /// <summary>The struct sock_filter array as bytes.</summary>
    public required byte[] Instructions { get; init; }
    public uint Flags { get; init; }

    public static SeccompProgram From(Seccomp.SeccompFilter filter) => new()
    {
        Instructions = System.Runtime.InteropServices.MemoryMarshal.AsBytes(filter.Program.AsSpan()).ToArray(),
        Flags = filter.Flags,
    };

    public Seccomp.SeccompFilter ToFilter()
    {
        if (Instructions.Length % 8 != 0) throw new InvalidDataException($"seccomp program of {Instructions.Length} bytes is not whole sock_filter instructions");
        return new(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Seccomp.SockFilter>(Instructions).ToArray(), Flags);
    }
}
