using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;

namespace Berth.Runtime.Cli.Commands;

/// <summary>`ps`: the container's host pids as JSON, or the host's `ps` (default -ef) filtered to them.</summary>
internal static class PsCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var psArgs = new Argument<string[]>("ps-options") { Arity = ArgumentArity.ZeroOrMore, Description = "options for ps (after --), default -ef" };
        var format = new Option<string>("--format", "-f") { Description = "table or json", DefaultValueFactory = _ => "table" };
        var c = new Command("ps", "list the processes running inside a container");
        c.Arguments.Add(id);
        c.Arguments.Add(psArgs);
        c.Options.Add(format);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            string fmt = p.GetValue(format)!;
            if (fmt is not ("table" or "json"))
                throw new ContainerException($"--format \"{fmt}\": must be table or json");
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            var pids = container.Pids();
            if (fmt == "json")
            {
                Console.WriteLine(JsonSerializer.Serialize(pids.ToArray(), CliJsonContext.Default.Int32Array));
                return 0;
            }
            string[] args = p.GetValue(psArgs) is { Length: > 0 } given ? given : ["-ef"];
            Console.Write(PsOutput.Filter(RunPs(args), pids.ToHashSet()));
            return 0;
        }));
        return c;
    }

    static string RunPs(string[] args)
    {
        var start = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using var ps = Process.Start(start) ?? throw new ContainerException("cannot start ps");
        var stderr = ps.StandardError.ReadToEndAsync();
        string output = ps.StandardOutput.ReadToEnd();
        ps.WaitForExit();
        if (ps.ExitCode != 0)
            throw new ContainerException($"ps {string.Join(' ', args)} failed (exit {ps.ExitCode}): {stderr.Result.Trim()}");
        return output;
    }
}
