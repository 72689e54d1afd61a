using System.CommandLine;

namespace Berth.Runtime.Cli.Commands;

/// <summary>The flags `create` and `run` share, as runc names them.</summary>
internal sealed class CreateOptionsSet
{
    public Argument<string> Id { get; } = new("container-id") { Description = "the container's unique name on this host" };
    public Option<string> Bundle { get; } = new("--bundle", "-b")
    {
        Description = "path to the root of the bundle directory, defaults to the current directory",
        DefaultValueFactory = _ => ".",
    };
    public Option<string?> PidFile { get; } = new("--pid-file") { Description = "specify the file to write the process id to" };
    public Option<bool> NoPivot { get; } = new("--no-pivot") { Description = "do not use pivot root to jail process inside rootfs" };
    public Option<bool> NoNewKeyring { get; } = new("--no-new-keyring") { Description = "do not create a new session keyring for the container" };
    public Option<int> PreserveFds { get; } = NumberOption.Int("--preserve-fds",
        "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "a number of file descriptors");
    public Option<string?> ConsoleSocket { get; } = new("--console-socket") { Description = "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" };

    public void AddTo(Command c)
    {
        c.Arguments.Add(Id);
        c.Options.Add(Bundle);
        c.Options.Add(PidFile);
        c.Options.Add(NoPivot);
        c.Options.Add(NoNewKeyring);
        c.Options.Add(PreserveFds);
        c.Options.Add(ConsoleSocket);
    }

    /// <summary>
    /// systemd socket activation (sd_listen_fds): LISTEN_FDS counts fds from 3 on, meant for the process named by
    /// LISTEN_PID; for us, they are passed on to the container as runc does.
    /// </summary>
    static int SocketActivationFds() =>
        int.TryParse(Environment.GetEnvironmentVariable("LISTEN_PID"), out int pid) && pid == Environment.ProcessId
        && int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), out int count) && count > 0 ? count : 0;

    /// <param name="foreground">The command stays attached to the container (run without -d).</param>
    public CreateOptions From(ParseResult p, bool foreground = false)
    {
        string? socket = p.GetValue(ConsoleSocket);
        return new CreateOptions
        {
            NoPivot = p.GetValue(NoPivot),
            NoNewKeyring = p.GetValue(NoNewKeyring),
            PreserveFds = p.GetValue(PreserveFds),
            ListenFds = SocketActivationFds(),
            PidFile = p.GetValue(PidFile),
            ConsoleSocket = socket is null ? null : Path.GetFullPath(socket),
            Foreground = foreground,
        };
    }
}
