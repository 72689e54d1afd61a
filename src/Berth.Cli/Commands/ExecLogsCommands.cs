using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth logs</c> and <c>berth exec</c>: the two verbs that read a container's streams.</summary>
public static class ExecLogsCommands
{
    public static Command Logs(CliGlobals globals)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "Show timestamps" };
        var tail = new Option<string?>("--tail", "-n") { Description = "Number of lines to show from the end of the logs (default \"all\")" };
        var since = new Option<string?>("--since") { Description = "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)" };
        var until = new Option<string?>("--until") { Description = "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)" };
        var details = new Option<bool>("--details") { Description = "Show extra details provided to logs (not supported)" };
        var container = new Argument<string>("CONTAINER");
        var command = new Command("logs", "Fetch the logs of a container") { container, follow, timestamps, tail, since, until, details };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (parse.GetValue(details)) throw new FormatException("berth logs: the flag --details is not supported yet");
            var now = DateTimeOffset.UtcNow;
            var inspect = await client.InspectContainerAsync(parse.GetValue(container)!, token);
            var options = new LogsOptions(
                Follow: parse.GetValue(follow),
                Tail: parse.GetValue(tail),
                Since: parse.GetValue(since) is { } s ? FlagValues.Timestamp("--since", s, now) : null,
                Until: parse.GetValue(until) is { } u ? FlagValues.Timestamp("--until", u, now) : null,
                Timestamps: parse.GetValue(timestamps));
            await using var body = await client.ContainerLogsAsync(inspect.Id, options, token);
            await AttachedStreams.CopyLogsAsync(body, inspect.Config.Tty, token);
            return 0;
        }, ct));
        return command;
    }

    /// <summary>
    /// <c>berth exec</c>: create, then start on a hijacked connection (or detached), then the exit code from the exec's
    /// inspect, as docker. With -t the local terminal is raw and its size follows the exec.
    /// </summary>
    public static Command Exec(CliGlobals globals)
    {
        var detach = new Option<bool>("--detach", "-d") { Description = "Detached mode: run command in the background" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Keep STDIN open even if not attached" };
        var tty = new Option<bool>("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
        var user = new Option<string?>("--user", "-u") { Description = "Username or UID (format: \"<name|uid>[:<group|gid>]\")" };
        var workdir = new Option<string?>("--workdir", "-w") { Description = "Working directory inside the container" };
        var env = new Option<string[]>("--env", "-e") { Description = "Set environment variables" };
        var envFile = new Option<string[]>("--env-file") { Description = "Read in a file of environment variables (not supported)" };
        var privileged = new Option<bool>("--privileged") { Description = "Give extended privileges to the command" };
        var detachKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (not supported)" };
        var container = new Argument<string>("CONTAINER");
        var args = new Argument<string[]>("COMMAND") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("exec", "Execute a command in a running container")
        {
            container, args, detach, interactive, tty, user, workdir, env, envFile, privileged, detachKeys,
        };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (parse.GetValue(detachKeys) is not null) throw new FormatException("berth exec: the flag --detach-keys is not supported yet");
            if (parse.GetValue(envFile) is { Length: > 0 }) throw new FormatException("berth exec: the flag --env-file is not supported yet");
            bool isTty = parse.GetValue(tty), stdin = parse.GetValue(interactive), detached = parse.GetValue(detach);
            if (isTty && stdin && !detached && Console.IsInputRedirected)
            {
                Console.Error.WriteLine("the input device is not a TTY");
                return 1;
            }
            var inspect = await client.InspectContainerAsync(parse.GetValue(container)!, token);
            var request = new ExecCreateRequest
            {
                User = parse.GetValue(user) ?? "",
                Privileged = parse.GetValue(privileged),
                Tty = isTty,
                AttachStdin = stdin && !detached,
                AttachStdout = !detached,
                AttachStderr = !detached,
                Detach = detached,
                Env = parse.GetValue(env) is { Length: > 0 } e ? [.. e] : null,
                WorkingDir = parse.GetValue(workdir) ?? "",
                Cmd = [.. parse.GetValue(args)!],
            };
            string execId = await client.CreateExecAsync(inspect.Id, request, token);
            if (detached)
            {
                await client.StartExecDetachedAsync(execId, isTty, token);
                return 0;
            }
            using (var connection = await client.StartExecAsync(execId, isTty, token))
            using (isTty && stdin ? RawTerminal.Enter(0) : null)
            using (isTty ? TerminalSize.Follow((h, w) => client.ResizeExecAsync(execId, h, w, token)) : null)
            {
                await AttachedStreams.PumpAsync(connection, stdin, isTty, token);
            }
            // The daemon closes the stream when the process exits; its exit code is final by then (a bounded wait covers a slow one).
            for (int attempt = 0; ; attempt++)
            {
                var result = await client.InspectExecAsync(execId, token);
                if (!result.Running || attempt >= 100) return result.ExitCode ?? 126;
                await Task.Delay(100, token);
            }
        }, ct));
        return command;
    }
}
