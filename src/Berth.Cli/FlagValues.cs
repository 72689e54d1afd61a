using System.Globalization;

namespace Berth.Cli;

/// <summary>The value syntaxes of docker's flags (go-units sizes, Go durations, key=value lists), each failure a sentence naming the flag.</summary>
public static class FlagValues
{
    /// <summary>go-units RAMInBytes: "64m", "1g", "512k", "100" (bytes); binary multiples.</summary>
    public static long Bytes(string flag, string value)
    {
        string text = value.Trim().ToLowerInvariant();
        if (text.EndsWith('b')) text = text[..^1];
        long multiplier = 1;
        if (text.Length > 0 && "kmgtp".Contains(text[^1]))
        {
            multiplier = text[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, 't' => 1L << 40, _ => 1L << 50 };
            text = text[..^1];
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || number < 0)
            throw new FormatException($"invalid argument \"{value}\" for \"{flag}\" flag: invalid size: '{value}'");
        return (long)(number * multiplier);
    }

    /// <summary>A Go duration ("10s", "1m30s", "500ms", "1.5h") in nanoseconds.</summary>
    public static long Duration(string flag, string value)
    {
        if (!TryDuration(value, out long ns))
            throw new FormatException($"invalid argument \"{value}\" for \"{flag}\" flag: time: invalid duration \"{value}\"");
        return ns;
    }

    public static bool TryDuration(string value, out long nanoseconds)
    {
        nanoseconds = 0;
        string text = value.Trim();
        if (text == "0") return true;
        int i = 0;
        bool negative = text.StartsWith('-');
        if (negative || text.StartsWith('+')) i++;
        if (i >= text.Length) return false;
        double total = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (start == i || !double.TryParse(text[start..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double number)) return false;
            int unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.') i++;
            double unit = text[unitStart..i] switch
            {
                "ns" => 1, "us" or "µs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, "h" => 3600e9,
                _ => double.NaN,
            };
            if (double.IsNaN(unit)) return false;
            total += number * unit;
        }
        nanoseconds = (long)(negative ? -total : total);
        return true;
    }

    /// <summary>"KEY=VALUE" split at the first '='; <paramref name="valueOptional"/> allows "KEY" alone (value "").</summary>
    public static (string Key, string Value) Pair(string flag, string item, bool valueOptional = false)
    {
        int eq = item.IndexOf('=');
        if (eq > 0) return (item[..eq], item[(eq + 1)..]);
        if (valueOptional && item.Length > 0 && eq < 0) return (item, "");
        throw new FormatException($"invalid argument \"{item}\" for \"{flag}\" flag: expected KEY=VALUE");
    }

    /// <summary>A timestamp or a duration before now, as docker's --since/--until take them, in Unix seconds (with fraction).</summary>
    public static string Timestamp(string flag, string value, DateTimeOffset now)
    {
        if (TryDuration(value, out long ns) && !value.Trim().All(char.IsAsciiDigit))
        {
            var at = now - TimeSpan.FromTicks(ns / 100);
            return at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return value;
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            return date.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        throw new FormatException($"invalid value for \"{flag}\": \"{value}\" is neither a timestamp (RFC 3339, Unix seconds) nor a duration (10m, 1h30m)");
    }
}
