using System.CommandLine;

namespace Berth.Cli.Commands;

/// <summary><c>berth image history IMAGE</c>: the layers, newest first.</summary>
public static class HistoryCommand
{
    public static Command Build(CliGlobals globals)
    {
        var name = new Argument<string>("IMAGE");
        var noTrunc = new Option<bool>("--no-trunc") { Description = "don't truncate output" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "only show image IDs" };
        var command = new Command("history", "Show the history of an image") { name, noTrunc, quiet };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            var history = await client.ImageHistoryAsync(parse.GetValue(name)!, token);
            bool trunc = !parse.GetValue(noTrunc);
            string Id(string id) => id == "<missing>" ? id : ImagesCommand.ShortId(id, trunc);
            if (parse.GetValue(quiet))
            {
                foreach (var item in history) Console.Out.WriteLine(Id(item.Id));
                return 0;
            }
            var table = new TextTable("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
            foreach (var item in history)
            {
                string createdBy = item.CreatedBy.Replace('\t', ' ');
                if (trunc && createdBy.Length > 45) createdBy = createdBy[..44] + "…";
                table.Add(Id(item.Id), HumanUnits.Ago(item.Created), createdBy, HumanUnits.Size(item.Size), item.Comment);
            }
            table.WriteTo(Console.Out);
            return 0;
        }, ct));
        return command;
    }
}
