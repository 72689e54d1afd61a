using System.CommandLine;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth info</c>: the daemon's /info in docker's layout; warnings go to stderr as docker's do.</summary>
public static class InfoCommand
{
    public static Command Build(CliGlobals globals)
    {
        var command = new Command("info", "Display system-wide information");
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var info = await client.InfoAsync(token);
            Write(Console.Out, info);
            foreach (string warning in info.Warnings ?? []) Console.Error.WriteLine(warning);
            return 0;
        }, ct));
        return command;
    }

    static void Write(TextWriter o, SystemInfo info)
    {
        o.WriteLine("Server:");
        o.WriteLine($" Containers: {info.Containers}");
        o.WriteLine($"  Running: {info.ContainersRunning}");
        o.WriteLine($"  Paused: {info.ContainersPaused}");
        o.WriteLine($"  Stopped: {info.ContainersStopped}");
        o.WriteLine($" Images: {info.Images}");
        o.WriteLine($" Server Version: {info.ServerVersion}");
        o.WriteLine($" Storage Driver: {info.Driver}");
        foreach (var pair in info.DriverStatus.Where(p => p.Length == 2)) o.WriteLine($"  {pair[0]}: {pair[1]}");
        o.WriteLine($" Logging Driver: {info.LoggingDriver}");
        o.WriteLine($" Cgroup Driver: {info.CgroupDriver}");
        o.WriteLine($" Cgroup Version: {info.CgroupVersion}");
        o.WriteLine($" Runtimes: {string.Join(' ', info.Runtimes.Keys.Order(StringComparer.Ordinal))}");
        o.WriteLine($" Default Runtime: {info.DefaultRuntime}");
        o.WriteLine(" Security Options:");
        foreach (string option in info.SecurityOptions)
        {
            // "name=seccomp,profile=builtin" → "  seccomp" / "   Profile: builtin", as docker prints it.
            foreach (string part in option.Split(','))
            {
                int eq = part.IndexOf('=');
                if (eq < 0) continue;
                string key = part[..eq], value = part[(eq + 1)..];
                o.WriteLine(key == "name" ? $"  {value}" : $"   {char.ToUpperInvariant(key[0])}{key[1..]}: {value}");
            }
        }
        o.WriteLine($" Kernel Version: {info.KernelVersion}");
        o.WriteLine($" Operating System: {info.OperatingSystem}");
        o.WriteLine($" OSType: {info.OSType}");
        o.WriteLine($" Architecture: {info.Architecture}");
        o.WriteLine($" CPUs: {info.NCPU}");
        o.WriteLine($" Total Memory: {HumanUnits.BinarySize(info.MemTotal)}");
        o.WriteLine($" Name: {info.Name}");
        o.WriteLine($" ID: {info.ID}");
        o.WriteLine($" Berth Root Dir: {info.DockerRootDir}");
        o.WriteLine($" Debug Mode: {(info.Debug ? "true" : "false")}");
        o.WriteLine($" Experimental: {(info.ExperimentalBuild ? "true" : "false")}");
        if (info.RegistryConfig is { InsecureRegistryCIDRs.Count: > 0 } registry)
        {
            o.WriteLine(" Insecure Registries:");
            foreach (string cidr in registry.InsecureRegistryCIDRs) o.WriteLine($"  {cidr}");
        }
        o.WriteLine($" Live Restore Enabled: {(info.LiveRestoreEnabled ? "true" : "false")}");
    }
}
