using System.Globalization;

namespace Berth.Cli;

/// <summary>Sizes and durations as the docker CLI prints them (go-units).</summary>
public static class HumanUnits
{
    /// <summary>Decimal units, three significant digits: 4.26MB, 1.98kB, 0B.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB"];
        double size = bytes;
        int i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }
        return size.ToString("G3", CultureInfo.InvariantCulture) + units[i];
    }

    /// <summary>Binary units with two decimals, as docker info's "Total Memory: 23.54GiB".</summary>
    public static string BinarySize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double size = bytes;
        int i = 0;
        while (size >= 1024 && i < units.Length - 1)
        {
            size /= 1024;
            i++;
        }
        return size.ToString("0.##", CultureInfo.InvariantCulture) + units[i];
    }

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

/// <summary>Columns padded like Go's tabwriter in the docker CLI: each as wide as its widest cell plus three spaces.</summary>
public sealed class TextTable(params string[] headers)
{
    readonly List<string[]> _rows = [headers];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter output)
    {
        int columns = _rows[0].Length;
        int[] widths = new int[columns];
        foreach (var row in _rows)
            for (int i = 0; i < columns; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        foreach (var row in _rows)
        {
            var line = new System.Text.StringBuilder();
            for (int i = 0; i < columns; i++)
                line.Append(i == columns - 1 ? row[i] : row[i].PadRight(widths[i] + 3));
            output.WriteLine(line.ToString().TrimEnd());
        }
    }
}
