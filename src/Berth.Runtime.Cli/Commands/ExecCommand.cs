using System.CommandLine;
using System.Runtime.InteropServices;
using Berth.Linux;
using Berth.Runtime.Configs;
using Berth.Runtime.Terminal;

namespace Berth.Runtime.Cli.Commands;

/// <summary>
/// `exec`: runs a process in a created, running (or, with --ignore-paused, paused) container. In the foreground it
/// forwards signals to the process and exits with its status (128+signal when a signal killed it); with -d it returns
/// once the process runs. With -t (or terminal=true in --process) the process gets a pty of the container's devpts:
/// its master goes to --console-socket (with -d), or is relayed to the caller's terminal in the foreground.
/// Failures exit 255 with "exec failed: ...", as runc.
/// </summary>
internal static class ExecCommand
{
    static readonly int[] Forwarded = [Libc.SIGHUP, Libc.SIGINT, Libc.SIGQUIT, Libc.SIGUSR1, 12 /* SIGUSR2 */, Libc.SIGTERM, Libc.SIGWINCH];
    const int FailureExitCode = 255;

    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id") { Description = "the container to run the process in" };
        var command = new Argument<string[]>("command") { Description = "the command and its arguments (not with --process)", Arity = ArgumentArity.ZeroOrMore };
        var process = new Option<string?>("--process", "-p") { Description = "path to the process.json" };
        var consoleSocket = new Option<string?>("--console-socket") { Description = "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" };
        var cwd = new Option<string?>("--cwd") { Description = "current working directory in the container" };
        var env = new Option<string[]>("--env", "-e") { Description = "set environment variables (NAME=value)", AllowMultipleArgumentsPerToken = false };
        var tty = new Option<bool>("--tty", "-t") { Description = "allocate a pseudo-TTY" };
        var user = new Option<string?>("--user", "-u") { Description = "UID (format: <uid>[:<gid>])" };
        var gids = new Option<string[]>("--additional-gids", "-g") { Description = "additional gids" };
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var pidFile = new Option<string?>("--pid-file") { Description = "specify the file to write the process id to" };
        var processLabel = new Option<string?>("--process-label") { Description = "set the SELinux label of the process (refused: no SELinux here)" };
        var apparmor = new Option<string?>("--apparmor") { Description = "set the AppArmor profile of the process (refused: no AppArmor here)" };
        var noNewPrivs = new Option<bool>("--no-new-privs") { Description = "set the no new privileges value for the process" };
        var cap = new Option<string[]>("--cap", "-c") { Description = "add a capability to the bounding, effective and permitted sets of the process" };
        var preserveFds = NumberOption.Int("--preserve-fds", "pass N additional file descriptors to the process (stdio + N in total)", "a number of file descriptors");
        var cgroup = new Option<string[]>("--cgroup") { Description = "run the process in an (existing) sub-cgroup(s). Format is [<controller>[,<controller>]:]<cgroup>." };
        var ignorePaused = new Option<bool>("--ignore-paused") { Description = "allow exec in a paused container" };

        var c = new Command("exec", "execute new process inside the container");
        c.Arguments.Add(id);
        c.Arguments.Add(command);
        foreach (Option o in new Option[] { process, consoleSocket, cwd, env, tty, user, gids, detach, pidFile, processLabel, apparmor, noNewPrivs, cap, preserveFds, cgroup, ignorePaused })
            c.Options.Add(o);
        // `exec ID sh -c 'ls -l'`: Program inserts "--" before the command (ExecArguments), so -c stays sh's.

        c.SetAction(p => g.Run(p, (store, log) =>
        {
            if (p.GetValue(apparmor) is { Length: > 0 } profile) throw new ContainerException($"--apparmor {profile}: AppArmor is not enabled on this host");
            if (p.GetValue(processLabel) is { Length: > 0 } label) throw new ContainerException($"--process-label {label}: SELinux is not enabled on this host");

            string containerId = p.GetValue(id)!;
            string[] args = p.GetValue(command) ?? [];
            using var container = new ContainerFactory(store, log.Warn).Load(containerId);

            ExecOptions options;
            if (p.GetValue(process) is { } file)
            {
                if (args.Length > 0) throw new ContainerException($"--process {file}: give either a process file or a command, not both");
                var loaded = ExecProcessSpec.Load(file);
                // runc takes the terminal from the file; -t on top asks for one too rather than being ignored.
                if (p.GetValue(tty)) loaded.Terminal = true;
                options = new ExecOptions { Process = loaded, Source = $"--process {file}" };
            }
            else
            {
                var containerProcess = ExecProcess.LoadContainerSpec(store, container.State).Process
                    ?? throw new ContainerException($"container {containerId}: its config.json has no process to take defaults from");
                var flags = new ExecFlags
                {
                    Args = args,
                    Cwd = p.GetValue(cwd),
                    Env = p.GetValue(env) ?? [],
                    User = p.GetValue(user),
                    AdditionalGids = p.GetValue(gids) ?? [],
                    Capabilities = p.GetValue(cap) ?? [],
                    NoNewPrivileges = p.GetValue(noNewPrivs),
                    Tty = p.GetValue(tty),
                };
                options = new ExecOptions { Process = ExecProcessSpec.FromFlags(containerProcess, flags), Source = "exec" };
            }
            options = options with
            {
                PreserveFds = p.GetValue(preserveFds),
                CgroupSubPaths = p.GetValue(cgroup) ?? [],
                IgnorePaused = p.GetValue(ignorePaused),
                Foreground = !p.GetValue(detach),
                ConsoleSocket = p.GetValue(consoleSocket),
                ReportsPid = p.GetValue(pidFile) is not null,
            };

            var started = ExecProcess.Start(container, store, options, log.Warn);
            container.Dispose(); // release the container's lock: kill, state and pause must work while it runs
            if (p.GetValue(pidFile) is { } path) PidFile.Write(path, started.Pid);
            if (p.GetValue(detach)) return 0;

            int pid = started.Pid;
            using var relay = started.Master is { } master ? TerminalRelay.Start(master) : null;
            // With a relayed terminal, SIGWINCH becomes a resize of the pty (the relay's), not a signal.
            var registrations = Forwarded.Where(sig => relay is null || sig != Libc.SIGWINCH)
                .Select(sig => PosixSignalRegistration.Create((PosixSignal)sig, ctx =>
                {
                    ctx.Cancel = true;
                    Libc.kill(pid, sig);
                })).ToList();
            int status = started.Wait();
            foreach (var r in registrations) r.Dispose();
            if (relay is not null && !relay.WaitForOutput(TimeSpan.FromSeconds(5)))
                log.DebugLine($"exec in {containerId}: the terminal stayed open after the process exited; output after this is lost");
            return WaitStatus.ToExitCode(status);
        }, FailureExitCode, "exec failed: "));
        return c;
    }
}
