using System.Globalization;

namespace Berth.Cli;

/// <summary>Sizes and durations as the docker CLI prints them (go-units).</summary>
public static class HumanUnits
{
    /// <summary>Decimal units, three significant digits: 4.26MB, 1.98kB, 0B.</summary>
    public static string Size(long bytes) => Scaled(bytes, 1000, DecimalUnits, "G3");

    static readonly string[] DecimalUnits = ["B", "kB", "MB", "GB", "TB", "PB"];
    static readonly string[] BinaryUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    static string Scaled(double size, int step, string[] units, string format)
    {
        int i = 0;
        while (size >= step && i < units.Length - 1)
        {
            size /= step;
            i++;
        }
        return size.ToString(format, CultureInfo.InvariantCulture) + units[i];
    }

    /// <summary>go-units BytesSize, as docker stats prints memory: binary units, four significant digits ("504KiB", "23.54GiB").</summary>
    public static string BytesSize(double bytes) => Scaled(bytes, 1024, BinaryUnits, "G4");

    /// <summary>Binary units with two decimals, as docker info's "Total Memory: 23.54GiB".</summary>
    public static string BinarySize(long bytes) => Scaled(bytes, 1024, BinaryUnits, "0.##");

    /// <summary>go-units HumanDuration: "Less than a second", "5 minutes", "2 weeks", "3 years".</summary>
    public static string Duration(TimeSpan d)
    {
        double seconds = d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds < 2) return "1 second";
        if (seconds < 60) return $"{(int)seconds} seconds";
        double minutes = d.TotalMinutes;
        if (minutes < 2) return "About a minute";
        if (minutes < 60) return $"{(int)minutes} minutes";
        double hours = Math.Round(d.TotalHours);
        if (hours < 2) return "About an hour";
        if (hours < 48) return $"{(int)hours} hours";
        if (hours < 24 * 7 * 2) return $"{(int)(hours / 24)} days";
        if (hours < 24 * 30 * 2) return $"{(int)(hours / 24 / 7)} weeks";
        if (hours < 24 * 365 * 2) return $"{(int)(hours / 24 / 30)} months";
        return $"{(int)(hours / 24 / 365)} years";
    }

    public static string Ago(long unixSeconds) =>
        Duration(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(unixSeconds)) + " ago";
}

/// <summary>
/// Columns padded like Go's tabwriter in the docker CLI: each as wide as its widest cell plus three spaces, and at
/// least <see cref="MinWidth"/> (the container formatters' tabwriter has a minimum cell width of 10).
/// </summary>
public sealed class TextTable(params string[] headers)
{
    readonly List<string[]> _rows = [headers];

    public int MinWidth { get; init; }

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter output)
    {
        int columns = _rows[0].Length;
        int[] widths = new int[columns];
        foreach (var row in _rows)
            for (int i = 0; i < columns; i++) widths[i] = Math.Max(widths[i], i < row.Length ? row[i].Length : 0);
        foreach (var row in _rows)
        {
            var line = new System.Text.StringBuilder();
            for (int i = 0; i < columns; i++)
            {
                string cell = i < row.Length ? row[i] : "";
                line.Append(i == columns - 1 ? cell : cell.PadRight(Math.Max(widths[i] + 3, MinWidth)));
            }
            output.WriteLine(line.ToString().TrimEnd());
        }
    }
}
