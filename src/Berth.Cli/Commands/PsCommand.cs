using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Berth.Api;

namespace Berth.Cli.Commands;

/// <summary><c>berth ps</c> (also <c>container ls</c>): docker's table, its fields for --format, ids with -q.</summary>
public static class PsCommand
{
    const string DefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

    static readonly Dictionary<string, string> Headers = new()
    {
        ["ID"] = "CONTAINER ID", ["Image"] = "IMAGE", ["Command"] = "COMMAND", ["CreatedAt"] = "CREATED AT", ["RunningFor"] = "CREATED",
        ["Ports"] = "PORTS", ["State"] = "STATE", ["Status"] = "STATUS", ["Size"] = "SIZE", ["Names"] = "NAMES", ["Labels"] = "LABELS",
        ["Mounts"] = "MOUNTS", ["Networks"] = "NETWORKS", ["LocalVolumes"] = "LOCAL VOLUMES", ["Platform"] = "PLATFORM",
    };

    public static string HeaderOf(string field) =>
        Headers.TryGetValue(field.Split('.')[0], out var h) ? h : field.Split('.')[0].ToUpperInvariant();

    public static Command Build(CliGlobals globals, string name)
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display container IDs" };
        var last = new Option<int?>("--last", "-n") { Description = "Show n last created containers (includes all states)" };
        var latest = new Option<bool>("--latest", "-l") { Description = "Show the latest created container (includes all states)" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output based on conditions provided" };
        var format = new Option<string?>("--format") { Description = "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var size = new Option<bool>("--size", "-s") { Description = "Display total file sizes" };
        var command = new Command(name, "List containers") { all, quiet, last, latest, filter, format, noTrunc, size };
        command.SetAction((parse, ct) => globals.RunAsync(parse, async (client, token) =>
        {
            bool trunc = !parse.GetValue(noTrunc);
            string? fmt = parse.GetValue(format);
            bool withSize = parse.GetValue(size);
            string table = withSize && (fmt is null or "table") ? DefaultTable + "\t{{.Size}}" : DefaultTable;
            var output = new FormattedOutput(fmt, table, HeaderOf);
            int? limit = parse.GetValue(latest) ? 1 : parse.GetValue(last) is { } n and > 0 ? n : null;
            bool wantSize = withSize || (fmt is not null && !parse.GetValue(quiet) && output.Uses("Size"));
            var containers = await client.ListContainersAsync(parse.GetValue(all), limit, wantSize,
                ApiFilters.FromPairs(parse.GetValue(filter) ?? []), token);
            if (parse.GetValue(quiet))
            {
                foreach (var c in containers) Console.Out.WriteLine(trunc ? ShortId(c.Id) : c.Id);
                return 0;
            }
            output.Write(Console.Out, containers.Select(c => Fields(c, trunc, DateTimeOffset.UtcNow)));
            return 0;
        }, ct));
        return command;
    }

    public static string ShortId(string id) => id.Length > 12 ? id[..12] : id;

    /// <summary>The fields docker's container formatter offers, as rendered strings (its <c>{{json .}}</c> object).</summary>
    internal static JsonElement Fields(ContainerSummary c, bool trunc, DateTimeOffset now)
    {
        string image = c.Image;
        if (trunc && image.StartsWith("sha256:", StringComparison.Ordinal)) image = ShortId(image["sha256:".Length..]);
        else if (trunc && image.Contains('@')) image = image[..image.IndexOf('@')];
        string command = trunc ? Ellipsis(c.Command, 20) : c.Command;
        var names = c.Names.Select(n => n.TrimStart('/')).Where(n => !trunc || !n.Contains('/')).ToList();
        var created = DateTimeOffset.FromUnixTimeSeconds(c.Created);
        return FormattedOutput.Object(new Dictionary<string, object?>
        {
            ["Command"] = GoQuote(command),
            ["CreatedAt"] = GoTime(created),
            ["ID"] = trunc ? ShortId(c.Id) : c.Id,
            ["Image"] = image,
            ["Labels"] = string.Join(",", (c.Labels ?? []).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
            ["LocalVolumes"] = (c.Mounts ?? []).Count(m => m.Driver == "local").ToString(CultureInfo.InvariantCulture),
            ["Mounts"] = string.Join(",", (c.Mounts ?? []).Select(m => m.Name is { Length: > 0 } n ? (trunc && n.Length > 15 ? Ellipsis(n, 15) : n) : m.Source)),
            ["Names"] = string.Join(",", names),
            ["Networks"] = string.Join(",", (c.NetworkSettings?.Networks ?? []).Keys.OrderBy(k => k, StringComparer.Ordinal)),
            ["Platform"] = null,
            ["Ports"] = Ports(c.Ports),
            ["RunningFor"] = HumanUnits.Duration(now - created) + " ago",
            ["Size"] = HumanUnits.Size(c.SizeRw) + $" (virtual {HumanUnits.Size(c.SizeRootFs)})",
            ["State"] = c.State,
            ["Status"] = c.Status,
        });
    }

    /// <summary>Go's time.Time String() in the local zone: "2026-12-06 04:39:15 +0000 UTC".</summary>
    internal static string GoTime(DateTimeOffset time)
    {
        var local = time.ToLocalTime();
        string offset = (local.Offset < TimeSpan.Zero ? "-" : "+") + local.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        string zone = local.Offset == TimeSpan.Zero ? "UTC" : offset;
        return local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " " + offset + " " + zone;
    }

    /// <summary>docker's Ellipsis: at most <paramref name="max"/> characters, the last one "…" when cut.</summary>
    internal static string Ellipsis(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>Go's strconv.Quote for the printable text commands hold.</summary>
    internal static string GoQuote(string text)
    {
        var quoted = new System.Text.StringBuilder("\"");
        foreach (char ch in text)
        {
            quoted.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' => $"\\x{(int)ch:x2}",
                _ => ch.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }

    static string Ports(List<ContainerPort> ports) =>
        string.Join(", ", ports.OrderBy(p => p.PrivatePort).ThenBy(p => p.IP, StringComparer.Ordinal).Select(p =>
            p.PublicPort > 0 ? $"{(p.IP is { Length: > 0 } ip ? (ip.Contains(':') ? $"[{ip}]" : ip) + ":" : "")}{p.PublicPort}->{p.PrivatePort}/{p.Type}"
                : $"{p.PrivatePort}/{p.Type}"));
}
