using System.CommandLine;
using Berth.Cli;
using Berth.Cli.Commands;

var globals = new CliGlobals();
var root = new RootCommand("berth: the client of berthd, docker's verbs");
root.Options.Add(globals.Host);
// docker's run and create use -h for --hostname: help answers to --help only.
foreach (var help in root.Options.OfType<System.CommandLine.Help.HelpOption>()) help.Aliases.Remove("-h");
root.Subcommands.Add(VersionCommand.Build(globals));
root.Subcommands.Add(InfoCommand.Build(globals));
root.Subcommands.Add(PullCommand.Build(globals));
root.Subcommands.Add(PushCommand.Build(globals));
root.Subcommands.Add(ImagesCommand.Build(globals, "images"));
root.Subcommands.Add(RmiCommand.Build(globals, "rmi"));
root.Subcommands.Add(TagCommand.Build(globals, "tag"));
root.Subcommands.Add(LoadCommand.Build(globals, "load"));
root.Subcommands.Add(SaveCommand.Build(globals, "save"));
root.Subcommands.Add(ImportCommand.Build(globals, "import"));
var image = new Command("image", "Manage images")
{
    ImageInspectCommand.Build(globals),
    HistoryCommand.Build(globals),
    ImagesCommand.Build(globals, "ls"),
    RmiCommand.Build(globals, "rm"),
    TagCommand.Build(globals, "tag"),
    LoadCommand.Build(globals, "load"),
    SaveCommand.Build(globals, "save"),
    ImportCommand.Build(globals, "import"),
    PullCommand.Build(globals),
    PushCommand.Build(globals),
};
root.Subcommands.Add(image);

// The container verbs, at the top level as docker has them, and again under "container".
IEnumerable<Command> ContainerVerbs(bool underContainer)
{
    yield return RunCommand.BuildRun(globals);
    yield return RunCommand.BuildCreate(globals);
    yield return LifecycleCommands.Start(globals);
    yield return LifecycleCommands.Stop(globals);
    yield return LifecycleCommands.Kill(globals);
    yield return LifecycleCommands.Restart(globals);
    yield return LifecycleCommands.Remove(globals, "rm");
    yield return LifecycleCommands.Pause(globals);
    yield return LifecycleCommands.Unpause(globals);
    yield return LifecycleCommands.Rename(globals);
    yield return LifecycleCommands.Update(globals);
    yield return LifecycleCommands.Wait(globals);
    yield return LifecycleCommands.Attach(globals);
    yield return PsCommand.Build(globals, underContainer ? "ls" : "ps");
    yield return ExecLogsCommands.Logs(globals);
    yield return ExecLogsCommands.Exec(globals);
    yield return MonitoringCommands.Top(globals);
    yield return MonitoringCommands.Stats(globals);
    yield return CpCommand.Build(globals);
    yield return PortCommand.Build(globals);
    if (underContainer)
    {
        yield return InspectCommand.Build(globals, "container");
        yield return MonitoringCommands.Prune(globals);
    }
}
foreach (var verb in ContainerVerbs(underContainer: false)) root.Subcommands.Add(verb);
root.Subcommands.Add(InspectCommand.Build(globals, onlyType: null));
root.Subcommands.Add(MonitoringCommands.Events(globals));
var container = new Command("container", "Manage containers");
foreach (var verb in ContainerVerbs(underContainer: true)) container.Subcommands.Add(verb);
container.Subcommands.First(c => c.Name == "ls").Aliases.Add("ps");
container.Subcommands.First(c => c.Name == "rm").Aliases.Add("remove");
root.Subcommands.Add(container);
root.Subcommands.Add(NetworkCommands.Build(globals));

var parse = root.Parse(InterspersedArguments.Separate(args, root));
if (parse.Errors.Count > 0 || UsageError.MisplacedFlag(parse) is not null) return UsageError.Report(parse);
// No termination handling by System.CommandLine: it would turn SIGINT/SIGTERM into exit 130 where docker forwards
// them to the container (--sig-proxy); elsewhere the default action ends the process (the terminal is restored on exit).
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
