using System.CommandLine;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth images [REPOSITORY[:TAG]]</c> (also <c>image ls</c>): docker's table, ids, or JSON lines.</summary>
public static class ImagesCommand
{
    public static Command Build(CliGlobals globals, string name)
    {
        var reference = new Argument<string?>("REPOSITORY[:TAG]") { Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all", "-a") { Description = "show all images (default hides intermediate images)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "only show image IDs" };
        var digests = new Option<bool>("--digests") { Description = "show digests" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "don't truncate output" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "filter output based on conditions (key=value)" };
        var format = new Option<string?>("--format") { Description = "'table' (default) or 'json' (one object per line)" };
        var command = new Command(name, "List images") { reference, all, quiet, digests, noTrunc, filter, format };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            string fmt = parse.GetValue(format) ?? "table";
            if (fmt is not ("table" or "json"))
            {
                Console.Error.WriteLine($"unsupported --format {fmt}: only 'table' and 'json' are supported");
                return 1;
            }
            List<string> pairs = [.. parse.GetValue(filter) ?? []];
            if (parse.GetValue(reference) is { Length: > 0 } r) pairs.Add("reference=" + r);
            var images = await client.ListImagesAsync(parse.GetValue(all), parse.GetValue(digests), ApiFilters.FromPairs(pairs), token);
            images.Sort((a, b) => b.Created.CompareTo(a.Created));
            bool trunc = !parse.GetValue(noTrunc);
            if (parse.GetValue(quiet))
            {
                foreach (string id in images.Select(i => ShortId(i.Id, trunc)).Distinct()) Console.Out.WriteLine(id);
                return 0;
            }
            var rows = Rows(images, trunc);
            if (fmt == "json")
            {
                foreach (var row in rows) Console.Out.WriteLine(JsonLine(row));
                return 0;
            }
            bool showDigests = parse.GetValue(digests);
            var table = showDigests
                ? new TextTable("REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE")
                : new TextTable("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
            foreach (var row in rows)
            {
                if (showDigests) table.Add(row.Repository, row.Tag, row.Digest, row.Id, row.Created, row.Size);
                else table.Add(row.Repository, row.Tag, row.Id, row.Created, row.Size);
            }
            table.WriteTo(Console.Out);
            return 0;
        }, ct));
        return command;
    }

    internal sealed record Row(string Repository, string Tag, string Digest, string Id, string Created, string Size, long CreatedUnix);

    /// <summary>One row per tag, as docker: an untagged image is one <c>&lt;none&gt;</c> row.</summary>
    internal static List<Row> Rows(IEnumerable<ImageSummary> images, bool trunc)
    {
        List<Row> rows = [];
        foreach (var image in images)
        {
            string id = ShortId(image.Id, trunc), created = HumanUnits.Ago(image.Created), size = HumanUnits.Size(image.Size);
            string digestOf(string repo) => image.RepoDigests?.FirstOrDefault(d => d.StartsWith(repo + "@", StringComparison.Ordinal)) is { } d
                ? d[(d.IndexOf('@') + 1)..] : "<none>";
            var tags = image.RepoTags?.Where(t => t != "<none>:<none>").ToList() ?? [];
            if (tags.Count == 0)
            {
                string repo = image.RepoDigests is [var first, ..] ? first[..first.IndexOf('@')] : "<none>";
                rows.Add(new Row(repo, "<none>", digestOf(repo), id, created, size, image.Created));
                continue;
            }
            foreach (string tagged in tags)
            {
                var (repo, tag) = ImageReferenceText.Split(tagged);
                rows.Add(new Row(repo, tag ?? "<none>", digestOf(repo), id, created, size, image.Created));
            }
        }
        return rows;
    }

    internal static string ShortId(string id, bool trunc)
    {
        if (!trunc) return id;
        string hex = id.StartsWith("sha256:", StringComparison.Ordinal) ? id["sha256:".Length..] : id;
        return hex.Length > 12 ? hex[..12] : hex;
    }

    static string JsonLine(Row row)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("Containers", "N/A");
            writer.WriteString("CreatedAt", DateTimeOffset.FromUnixTimeSeconds(row.CreatedUnix).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss zzz"));
            writer.WriteString("CreatedSince", row.Created);
            writer.WriteString("Digest", row.Digest);
            writer.WriteString("ID", row.Id);
            writer.WriteString("Repository", row.Repository);
            writer.WriteString("SharedSize", "N/A");
            writer.WriteString("Size", row.Size);
            writer.WriteString("Tag", row.Tag);
            writer.WriteString("UniqueSize", "N/A");
            writer.WriteString("VirtualSize", row.Size);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
