using System.Globalization;

namespace Berth.Engine.Logs;

/// <summary>
/// The times of the logs API: the json-file <c>time</c> field (RFC 3339 with up to 9 fraction digits), the prefix
/// <c>timestamps=1</c> adds (always 9 digits, UTC: <c>2026-12-06T04:25:44.599431170Z</c>), and the <c>since</c>/
/// <c>until</c> query values (unix seconds with an optional fraction, parsed as dockerd parses them).
/// </summary>
public static class LogTimestamps
{
    const long NanosPerSecond = 1_000_000_000;

    /// <summary>RFC 3339 with 9 fraction digits in UTC, as <c>docker logs -t</c> prints it.</summary>
    public static string Format(long unixNanos)
    {
        long seconds = Math.DivRem(unixNanos, NanosPerSecond, out long nanos);
        if (nanos < 0) { seconds--; nanos += NanosPerSecond; }
        var time = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
        return time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    /// <summary>
    /// A <c>since</c>/<c>until</c> value: "SECONDS" or "SECONDS.FRACTION" (the fraction scaled to nanoseconds by its
    /// length, so ".5" is half a second), either part signed, as dockerd's ParseTimestamps reads it.
    /// </summary>
    /// <exception cref="FormatException">Go's strconv message, which dockerd returns: <c>strconv.ParseInt: parsing "abc": invalid syntax</c>.</exception>
    public static long ParseQuery(string value)
    {
        int dot = value.IndexOf('.');
        long seconds = GoParseInt(dot < 0 ? value : value[..dot]);
        long nanos = 0;
        if (dot >= 0)
        {
            string fraction = value[(dot + 1)..];
            // dockerd scales in float64; doing the same keeps its rounding for fractions of more than 9 digits.
            nanos = (long)(GoParseInt(fraction) * Math.Pow(10, 9 - fraction.Length));
        }
        return checked(seconds * NanosPerSecond + nanos);
    }

    /// <summary>The json-file <c>time</c> field: <c>YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|±HH:MM)</c>, to unix nanoseconds.</summary>
    /// <exception cref="FormatException">Not that form.</exception>
    public static long ParseRfc3339(ReadOnlySpan<char> text)
    {
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
            throw new FormatException($"\"{text}\" is not an RFC 3339 time");
        var date = new DateTime(Digits(text, 0, 4), Digits(text, 5, 2), Digits(text, 8, 2), Digits(text, 11, 2), Digits(text, 14, 2),
            Digits(text, 17, 2), DateTimeKind.Utc);
        int i = 19;
        long nanos = 0;
        if (text[i] == '.')
        {
            int start = ++i;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            int count = i - start;
            if (count is 0 or > 9) throw new FormatException($"\"{text}\" is not an RFC 3339 time: the fraction has {count} digits");
            nanos = Digits(text, start, count) * (long)Math.Pow(10, 9 - count);
        }
        long offsetSeconds = 0;
        if (i == text.Length - 1 && (text[i] == 'Z' || text[i] == 'z')) { }
        else if (i == text.Length - 6 && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':')
            offsetSeconds = (text[i] == '-' ? -1 : 1) * (Digits(text, i + 1, 2) * 3600L + Digits(text, i + 4, 2) * 60L);
        else
            throw new FormatException($"\"{text}\" is not an RFC 3339 time: bad zone");
        return (new DateTimeOffset(date).ToUnixTimeSeconds() - offsetSeconds) * NanosPerSecond + nanos;
    }

    static int Digits(ReadOnlySpan<char> text, int start, int count) =>
        int.TryParse(text.Slice(start, count), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? n : throw new FormatException($"\"{text}\" is not an RFC 3339 time");

    /// <summary>strconv.ParseInt(s, 10, 64): an optional sign and decimal digits only.</summary>
    static long GoParseInt(string s)
    {
        ReadOnlySpan<char> digits = s.Length > 0 && (s[0] == '+' || s[0] == '-') ? s.AsSpan(1) : s;
        if (digits.Length == 0 || digits.ContainsAnyExceptInRange('0', '9'))
            throw new FormatException($"strconv.ParseInt: parsing \"{s}\": invalid syntax");
        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)
            ? n : throw new FormatException($"strconv.ParseInt: parsing \"{s}\": value out of range");
    }
}
