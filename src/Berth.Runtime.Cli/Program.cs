using System.CommandLine;
using System.Reflection;
using Berth.Oci;
using Berth.Runtime.Cli;
using Berth.Runtime.Cli.Commands;
using Berth.Runtime.Init;

if (Berth.Linux.SupportedPlatform.Refusal("berth-runtime") is { } refusal)
{
    Console.Error.WriteLine(refusal);
    return 1;
}
// `init` runs inside the container on every create: skip the command-line parser on that path.
if (args is ["init"]) return ContainerInit.Run();

args = ExecArguments.SeparateCommand(args);
var globals = new GlobalOptions();
var root = new RootCommand("berth-runtime: an OCI container runtime with runc's command line");
root.Options.Remove(root.Options.OfType<VersionOption>().Single());
var version = new Option<bool>("--version", "-v") { Description = "print the version" };
root.Options.Add(version);
globals.AddTo(root);
root.Subcommands.Add(SpecCommand.Build(globals));
root.Subcommands.Add(CreateCommand.Build(globals));
root.Subcommands.Add(StartCommand.Build(globals));
root.Subcommands.Add(RunCommand.Build(globals));
root.Subcommands.Add(ExecCommand.Build(globals));
root.Subcommands.Add(StateCommand.Build(globals));
root.Subcommands.Add(ListCommand.Build(globals));
root.Subcommands.Add(KillCommand.Build(globals));
root.Subcommands.Add(DeleteCommand.Build(globals));
root.Subcommands.Add(FeaturesCommand.Build(globals));
root.Subcommands.Add(PauseCommand.Build(globals));
root.Subcommands.Add(ResumeCommand.Build(globals));
root.Subcommands.Add(UpdateCommand.Build(globals));
root.Subcommands.Add(PsCommand.Build(globals));
root.Subcommands.Add(EventsCommand.Build(globals));
root.SetAction(p =>
{
    if (!p.GetValue(version))
    {
        Console.Error.WriteLine("berth-runtime: a command is required (see --help)");
        return 1;
    }
    // Shaped like `runc --version`, which tools parse line by line.
    string full = typeof(GlobalOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    int plus = full.IndexOf('+');
    Console.WriteLine($"berth-runtime version {(plus < 0 ? full : full[..plus])}");
    Console.WriteLine($"commit: {(plus < 0 ? "unknown" : full[(plus + 1)..])}");
    Console.WriteLine($"spec: {SpecVersion.Current}");
    Console.WriteLine($"dotnet: {Environment.Version}");
    return 0;
});
return root.Parse(args).Invoke();
