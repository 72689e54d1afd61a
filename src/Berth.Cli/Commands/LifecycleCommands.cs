using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// The verbs that act on each named container in turn (stop, kill, restart, rm, pause, unpause, start without -a,
/// wait): docker prints each name that worked, each failure on stderr, and exits 1 when any failed.
/// </summary>
public static class LifecycleCommands
{
    /// <param name="check">Runs once before any container: an exit code ends the command there (docker checks its flags first).</param>
    static Command ForEach(CliGlobals globals, string name, string description, Option[] options,
        Func<BerthClient, ParseResult, string, CancellationToken, Task<string?>> act, Func<ParseResult, int?>? check = null)
    {
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command(name, description) { containers };
        foreach (var option in options) command.Options.Add(option);
        command.SetAction((parse, ct) => check?.Invoke(parse) is { } code ? Task.FromResult(code) : globals.RunAsync(parse, async (client, token) =>
        {
            int failed = 0;
            foreach (string container in parse.GetValue(containers)!)
            {
                try
                {
                    if (await act(client, parse, container, token) is { } line) Console.Out.WriteLine(line);
                }
                catch (Exception e) when (e is DaemonErrorException or StreamErrorException)
                {
                    Console.Error.WriteLine(CliGlobals.Describe(e));
                    failed++;
                }
            }
            return failed == 0 ? 0 : 1;
        }, ct));
        return command;
    }

    public static Command Stop(CliGlobals globals)
    {
        var time = new Option<int?>("--time", "-t") { Description = "Seconds to wait for stop before killing it" };
        var signal = new Option<string?>("--signal", "-s") { Description = "Signal to send to the container (not supported yet at API 1.41)" };
        return ForEach(globals, "stop", "Stop one or more running containers", [time, signal], async (client, parse, name, ct) =>
        {
            if (parse.GetValue(signal) is not null) throw new StreamErrorException("berth stop: the flag --signal is not supported yet");
            await client.StopContainerAsync(name, parse.GetValue(time), ct);
            return name;
        });
    }

    public static Command Restart(CliGlobals globals)
    {
        var time = new Option<int?>("--time", "-t") { Description = "Seconds to wait for stop before killing the container" };
        return ForEach(globals, "restart", "Restart one or more containers", [time], async (client, parse, name, ct) =>
        {
            await client.RestartContainerAsync(name, parse.GetValue(time), ct);
            return name;
        });
    }

    public static Command Kill(CliGlobals globals)
    {
        var signal = new Option<string?>("--signal", "-s") { Description = "Signal to send to the container (default KILL)" };
        return ForEach(globals, "kill", "Kill one or more running containers", [signal], async (client, parse, name, ct) =>
        {
            await client.KillContainerAsync(name, parse.GetValue(signal), ct);
            return name;
        });
    }

    public static Command Remove(CliGlobals globals, string verb)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force the removal of a running container (uses SIGKILL)" };
        var volumes = new Option<bool>("--volumes", "-v") { Description = "Remove anonymous volumes associated with the container" };
        var link = new Option<bool>("--link", "-l") { Description = "Remove the specified link (not supported)" };
        return ForEach(globals, verb, "Remove one or more containers", [force, volumes, link], async (client, parse, name, ct) =>
        {
            if (parse.GetValue(link)) throw new StreamErrorException("berth rm: the flag --link is not supported yet");
            await client.RemoveContainerAsync(name, parse.GetValue(force), parse.GetValue(volumes), ct);
            return name;
        });
    }

    public static Command Pause(CliGlobals globals) =>
        ForEach(globals, "pause", "Pause all processes within one or more containers", [], async (client, _, name, ct) =>
        {
            await client.PauseContainerAsync(name, ct);
            return name;
        });

    public static Command Unpause(CliGlobals globals) =>
        ForEach(globals, "unpause", "Unpause all processes within one or more containers", [], async (client, _, name, ct) =>
        {
            await client.UnpauseContainerAsync(name, ct);
            return name;
        });

    public static Command Wait(CliGlobals globals) =>
        ForEach(globals, "wait", "Block until one or more containers stop, then print their exit codes", [], async (client, _, name, ct) =>
        {
            using var wait = await client.WaitContainerAsync(name, null, ct);
            var result = await wait.Result;
            if (result.Error is { Message.Length: > 0 } error) throw new StreamErrorException(error.Message);
            return result.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });

    public static Command Rename(CliGlobals globals)
    {
        var container = new Argument<string>("CONTAINER");
        var newName = new Argument<string>("NEW_NAME");
        var command = new Command("rename", "Rename a container") { container, newName };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string target = parse.GetValue(newName)!.Trim();
            if (target.Length == 0) throw new FormatException("Error: Neither old nor new names may be empty");
            await client.RenameContainerAsync(parse.GetValue(container)!, target, token);
            return 0;
        }, ct));
        return command;
    }

    /// <summary><c>berth start</c>: without -a each container is started and named; with -a (one container) its output is attached and its exit code returned.</summary>
    public static Command Start(CliGlobals globals)
    {
        var attach = new Option<bool>("--attach", "-a") { Description = "Attach STDOUT/STDERR and forward signals" };
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Attach container's STDIN" };
        var detachKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (not supported)" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("start", "Start one or more stopped containers") { containers, attach, interactive, detachKeys };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (parse.GetValue(detachKeys) is not null) throw new FormatException("berth start: the flag --detach-keys is not supported yet");
            var names = parse.GetValue(containers)!;
            bool attached = parse.GetValue(attach), stdin = parse.GetValue(interactive);
            if (!attached && !stdin)
            {
                int failed = 0;
                foreach (string name in names)
                {
                    try
                    {
                        await client.StartContainerAsync(name, token);
                        Console.Out.WriteLine(name);
                    }
                    catch (DaemonErrorException e)
                    {
                        Console.Error.WriteLine(CliGlobals.Describe(e));
                        failed++;
                    }
                }
                if (failed > 0) Console.Error.WriteLine("Error: failed to start containers: " + string.Join(", ", names));
                return failed == 0 ? 0 : 1;
            }
            if (names.Length > 1) throw new FormatException("you cannot start and attach multiple containers at once");
            var inspect = await client.InspectContainerAsync(names[0], token);
            bool tty = inspect.Config.Tty;
            stdin &= inspect.Config.OpenStdin;
            using var connection = await client.AttachContainerAsync(inspect.Id, stdin, stdout: true, stderr: true, ct: token);
            using var wait = await client.WaitContainerAsync(inspect.Id, "next-exit", token);
            using var raw = tty && stdin ? RawTerminal.Enter(0) : null;
            using var proxy = tty ? null : SignalProxy.Forward(signal => client.KillContainerAsync(inspect.Id, signal, token));
            var pump = AttachedStreams.PumpAsync(connection, stdin, tty, token);
            await client.StartContainerAsync(inspect.Id, token);
            using var resize = tty ? TerminalSize.Follow((h, w) => client.ResizeContainerAsync(inspect.Id, h, w, token)) : null;
            await pump;
            var result = await wait.Result;
            return (int)result.StatusCode;
        }, ct));
        return command;
    }

    /// <summary><c>berth attach</c>: the container's output (and stdin unless --no-stdin) until it ends; the exit code is the container's.</summary>
    public static Command Attach(CliGlobals globals)
    {
        var noStdin = new Option<bool>("--no-stdin") { Description = "Do not attach STDIN" };
        var sigProxy = new Option<bool>("--sig-proxy") { Description = "Proxy all received signals to the process (default true)", DefaultValueFactory = _ => true };
        var detachKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (not supported)" };
        var container = new Argument<string>("CONTAINER");
        var command = new Command("attach", "Attach local standard input, output, and error streams to a running container") { container, noStdin, sigProxy, detachKeys };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            if (parse.GetValue(detachKeys) is not null) throw new FormatException("berth attach: the flag --detach-keys is not supported yet");
            var inspect = await client.InspectContainerAsync(parse.GetValue(container)!, token);
            if (!inspect.State.Running) throw new FormatException("You cannot attach to a stopped container, start it first");
            if (inspect.State.Paused) throw new FormatException("You cannot attach to a paused container, unpause it first");
            bool tty = inspect.Config.Tty, stdin = !parse.GetValue(noStdin) && inspect.Config.OpenStdin;
            using var connection = await client.AttachContainerAsync(inspect.Id, stdin, stdout: true, stderr: true, ct: token);
            using var wait = await client.WaitContainerAsync(inspect.Id, "next-exit", token);
            using var raw = tty && stdin ? RawTerminal.Enter(0) : null;
            using var resize = tty ? TerminalSize.Follow((h, w) => client.ResizeContainerAsync(inspect.Id, h, w, token)) : null;
            using var proxy = parse.GetValue(sigProxy) && !tty ? SignalProxy.Forward(signal => client.KillContainerAsync(inspect.Id, signal, token)) : null;
            await AttachedStreams.PumpAsync(connection, stdin, tty, token);
            var result = await wait.Result;
            return (int)result.StatusCode;
        }, ct));
        return command;
    }

    /// <summary><c>berth update</c>: docker's resource flags and --restart, sent to each container.</summary>
    public static Command Update(CliGlobals globals)
    {
        var memory = new Option<string?>("--memory", "-m") { Description = "Memory limit" };
        var memorySwap = new Option<string?>("--memory-swap") { Description = "Swap limit equal to memory plus swap: -1 to enable unlimited swap" };
        var memoryReservation = new Option<string?>("--memory-reservation") { Description = "Memory soft limit" };
        var cpus = new Option<string?>("--cpus") { Description = "Number of CPUs" };
        var cpuShares = new Option<long>("--cpu-shares", "-c") { Description = "CPU shares (relative weight)" };
        var cpuPeriod = new Option<long>("--cpu-period") { Description = "Limit CPU CFS (Completely Fair Scheduler) period" };
        var cpuQuota = new Option<long>("--cpu-quota") { Description = "Limit CPU CFS (Completely Fair Scheduler) quota" };
        var cpusetCpus = new Option<string?>("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)" };
        var cpusetMems = new Option<string?>("--cpuset-mems") { Description = "MEMs in which to allow execution (0-3, 0,1)" };
        var pidsLimit = new Option<long?>("--pids-limit") { Description = "Tune container pids limit (set -1 for unlimited)" };
        var blkioWeight = new Option<ushort>("--blkio-weight") { Description = "Block IO (relative weight), between 10 and 1000, or 0 to disable" };
        var restart = new Option<string?>("--restart") { Description = "Restart policy to apply when a container exits" };
        var kernelMemory = new Option<string?>("--kernel-memory") { Hidden = true };
        Option[] options = [memory, memorySwap, memoryReservation, cpus, cpuShares, cpuPeriod, cpuQuota, cpusetCpus, cpusetMems, pidsLimit, blkioWeight, restart, kernelMemory];
        ContainerUpdateRequest update = new();
        return ForEach(globals, "update", "Update configuration of one or more containers", options, async (client, _, name, ct) =>
        {
            var response = await client.UpdateContainerAsync(name, update, ct);
            foreach (string warning in response.Warnings ?? []) Console.Error.WriteLine("WARNING: " + warning);
            return name;
        }, parse =>
        {
            // As docker: the flags are read once, before any container; a bad value is 125, none at all 1.
            if (options.All(o => parse.GetResult(o) is null))
            {
                Console.Error.WriteLine("you must provide one or more flags when using this command");
                return 1;
            }
            try
            {
                if (parse.GetValue(kernelMemory) is not null) throw new FormatException("berth update: the flag --kernel-memory is not supported");
                update = new ContainerUpdateRequest
                {
                    CpuShares = parse.GetValue(cpuShares),
                    CpuPeriod = parse.GetValue(cpuPeriod),
                    CpuQuota = parse.GetValue(cpuQuota),
                    CpusetCpus = parse.GetValue(cpusetCpus),
                    CpusetMems = parse.GetValue(cpusetMems),
                    PidsLimit = parse.GetValue(pidsLimit),
                    BlkioWeight = parse.GetValue(blkioWeight),
                    // docker leaves the policy's name to the daemon here ("invalid restart policy 'x'").
                    RestartPolicy = parse.GetValue(restart) is { } r ? ContainerFlags.RestartPolicyOf(r, knownNamesOnly: false) : null,
                };
                if (parse.GetValue(memory) is { } m) update.Memory = FlagValues.Bytes("--memory", m);
                if (parse.GetValue(memorySwap) is { } s) update.MemorySwap = s == "-1" ? -1 : FlagValues.Bytes("--memory-swap", s);
                if (parse.GetValue(memoryReservation) is { } mr) update.MemoryReservation = FlagValues.Bytes("--memory-reservation", mr);
                if (parse.GetValue(cpus) is { } c)
                {
                    if (!decimal.TryParse(c, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out decimal n) || n < 0)
                        throw new FormatException($"invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number");
                    update.NanoCpus = (long)(n * 1_000_000_000m);
                }
                return null;
            }
            catch (FormatException e)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine("See 'berth update --help'.");
                return 125;
            }
        });
    }
}
