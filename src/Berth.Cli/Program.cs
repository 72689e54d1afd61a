using System.CommandLine;
using Berth.Cli;
using Berth.Cli.Commands;

var globals = new CliGlobals();
var root = new RootCommand("berth: the client of berthd, docker's verbs");
root.Options.Add(globals.Host);
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

var parse = root.Parse(args);
if (parse.Errors.Count > 0 || UsageError.MisplacedFlag(parse) is not null) return UsageError.Report(parse);
return await parse.InvokeAsync();
