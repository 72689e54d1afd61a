using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary>
/// <c>berth run</c> and <c>berth create</c>, in docker's order: create (pulling the image when create answers 404,
/// then creating again), then for run: attach before start when not detached, wait (header first), start. The exit
/// code is the container's; a daemon error is 125, a command that cannot be run 126, one not found 127.
/// </summary>
public static class RunCommand
{
    public const int DaemonError = 125, CannotInvoke = 126, NotFound = 127;

    public static Command BuildRun(CliGlobals globals)
    {
        var flags = new ContainerFlags();
        var detach = new Option<bool>("--detach", "-d") { Description = "Run container in background and print container ID" };
        var remove = new Option<bool>("--rm") { Description = "Automatically remove the container when it exits" };
        var sigProxy = new Option<bool>("--sig-proxy") { Description = "Proxy received signals to the process (default true)", DefaultValueFactory = _ => true };
        var command = new Command("run", "Create and run a new container from an image") { detach, remove, sigProxy };
        flags.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            if (flags.Refusal(parse, "run") is { } refusal) return Refuse(refusal);
            return globals.RunAsync(parse, (client, token) =>
                RunAsync(client, parse, flags, parse.GetValue(detach), parse.GetValue(remove), parse.GetValue(sigProxy), token), DaemonError, "berth: ", ct);
        });
        return command;
    }

    public static Command BuildCreate(CliGlobals globals)
    {
        var flags = new ContainerFlags();
        var remove = new Option<bool>("--rm") { Description = "Automatically remove the container when it exits" };
        var command = new Command("create", "Create a new container") { remove };
        flags.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            if (flags.Refusal(parse, "create") is { } refusal) return Refuse(refusal);
            return globals.RunAsync(parse, async (client, token) =>
            {
                var request = flags.Build(parse);
                request.HostConfig!.AutoRemove = parse.GetValue(remove);
                if (request.OpenStdin)
                {
                    request.AttachStdin = true;
                    request.StdinOnce = true;
                }
                request.AttachStdout = request.AttachStderr = true;
                var created = await CreateAsync(client, request, parse.GetValue(flags.Name), token);
                Console.Out.WriteLine(created.Id);
                return 0;
            }, DaemonError, "berth: ", ct);
        });
        return command;
    }

    static Task<int> Refuse(string message)
    {
        Console.Error.WriteLine(message);
        return Task.FromResult(DaemonError);
    }

    static async Task<int> RunAsync(BerthClient client, ParseResult parse, ContainerFlags flags, bool detach, bool remove, bool sigProxy, CancellationToken ct)
    {
        var request = flags.Build(parse);
        bool tty = request.Tty, interactive = request.OpenStdin;
        if (remove && request.HostConfig!.RestartPolicy.Name is not ("" or "no"))
            throw new FormatException("conflicting options: cannot specify both --restart and --rm");
        if (tty && interactive && !detach && Console.IsInputRedirected)
        {
            Console.Error.WriteLine("berth: the input device is not a TTY");
            return 1;
        }
        request.HostConfig!.AutoRemove = remove;
        if (!detach)
        {
            request.AttachStdout = request.AttachStderr = true;
            if (interactive)
            {
                request.AttachStdin = true;
                request.StdinOnce = true;
            }
            if (tty && TerminalSize.Current() is { } size) request.HostConfig.ConsoleSize = [(uint)size.Height, (uint)size.Width];
        }
        var created = await CreateAsync(client, request, parse.GetValue(flags.Name), ct);
        foreach (string warning in created.Warnings) Console.Error.WriteLine("WARNING: " + warning);
        string id = created.Id;

        if (detach)
        {
            using (await client.WaitContainerAsync(id, "next-exit", ct))
            {
                if (await StartAsync(client, id, ct) is { } failed) return failed;
            }
            Console.Out.WriteLine(id);
            return 0;
        }

        using var connection = await client.AttachContainerAsync(id, interactive, stdout: true, stderr: true, ct: ct);
        using var wait = await client.WaitContainerAsync(id, remove ? "removed" : "next-exit", ct);
        using var raw = tty && interactive ? RawTerminal.Enter(0) : null;
        // Forwarding starts before the container does, as docker's: a signal as soon as it runs must not end the client.
        using var proxy = sigProxy && !tty ? SignalProxy.Forward(signal => client.KillContainerAsync(id, signal, ct)) : null;
        var pump = AttachedStreams.PumpAsync(connection, interactive, tty, ct);
        if (await StartAsync(client, id, ct) is { } startFailed)
        {
            raw?.Dispose();
            return startFailed;
        }
        using var resize = tty ? TerminalSize.Follow((h, w) => client.ResizeContainerAsync(id, h, w, ct)) : null;
        await pump;
        var result = await wait.Result;
        if (result.Error is { Message.Length: > 0 } error) throw new StreamErrorException(error.Message);
        return (int)result.StatusCode;
    }

    /// <summary>Starts; a failure is reported as docker run does, with 126 or 127 for a command that cannot run. Null on success.</summary>
    static async Task<int?> StartAsync(BerthClient client, string id, CancellationToken ct)
    {
        try
        {
            await client.StartContainerAsync(id, ct);
            return null;
        }
        catch (DaemonErrorException e)
        {
            Console.Error.WriteLine("berth: " + CliGlobals.Describe(e));
            return StartFailureCode(e.Message);
        }
    }

    /// <summary>docker's reading of a start error: the command not found is 127, not executable 126, anything else 125.</summary>
    internal static int StartFailureCode(string message)
    {
        if (message.Contains("executable file not found", StringComparison.Ordinal) || message.Contains("no such file or directory", StringComparison.Ordinal))
            return NotFound;
        if (message.Contains("permission denied", StringComparison.Ordinal)) return CannotInvoke;
        return DaemonError;
    }

    /// <summary>Creates; when the image is missing (404), pulls it as docker does ("Unable to find image ... locally") and creates again.</summary>
    internal static async Task<ContainerCreateResponse> CreateAsync(BerthClient client, ContainerCreateRequest request, string? name, CancellationToken ct)
    {
        try
        {
            return await client.CreateContainerAsync(request, name, ct);
        }
        catch (DaemonErrorException e) when (e.IsNotFound && e.Message.Contains("image", StringComparison.OrdinalIgnoreCase))
        {
            var (repository, tag) = ImageReferenceText.Split(request.Image);
            tag ??= "latest";
            string reference = tag.Contains(':') ? $"{repository}@{tag}" : $"{repository}:{tag}";
            Console.Error.WriteLine($"Unable to find image '{reference}' locally");
            await ProgressDisplay.ShowAsync(client.PullAsync(repository, tag, null, RegistryAuth.For(repository), ct), Console.Error,
                terminal: !Console.IsErrorRedirected, ct: ct);
            return await client.CreateContainerAsync(request, name, ct);
        }
    }
}
