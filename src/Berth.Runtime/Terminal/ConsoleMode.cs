namespace Berth.Runtime.Terminal;

/// <summary>Where a container's terminal goes.</summary>
public enum ConsoleMode
{
    /// <summary>No terminal: the process inherits the runtime's stdio.</summary>
    None,
    /// <summary>The pty master is sent to the caller's --console-socket.</summary>
    Socket,
    /// <summary>A foreground run relays the pty to its own stdio (runc's behaviour without a socket).</summary>
    Relay,
}

/// <summary>The rules of runc's checkTerminal, with messages that say which flag or field is at fault.</summary>
public static class ConsoleModes
{
    /// <param name="terminal">process.terminal of the spec.</param>
    /// <param name="foreground">The runtime stays attached (run without -d; exec without -d).</param>
    /// <param name="consoleSocket">--console-socket, if given.</param>
    /// <exception cref="ContainerException">A combination runc refuses too.</exception>
    public static ConsoleMode Decide(bool terminal, bool foreground, string? consoleSocket)
    {
        if (consoleSocket is not null)
        {
            if (!terminal)
                throw new ContainerException($"--console-socket {consoleSocket}: process.terminal is false, so there is no pty to send (set process.terminal or drop the flag)");
            if (foreground)
                throw new ContainerException($"--console-socket {consoleSocket}: only a detached container sends its pty to a socket (a foreground run relays it itself; use --detach or drop the flag)");
            return ConsoleMode.Socket;
        }
        if (!terminal) return ConsoleMode.None;
        if (!foreground)
            throw new ContainerException("process.terminal is true, but the runtime will not stay attached and no --console-socket was given to receive the pty");
        return ConsoleMode.Relay;
    }
}
