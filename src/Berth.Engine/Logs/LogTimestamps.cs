using System.Globalization;

namespace Berth.Engine.Logs;

/// <summary>
/// The times of the logs API: the json-file <c>time</c> field (RFC 3339 with up to 9 fraction digits), the prefix
/// <c>timestamps=1</c> adds (always 9 digits, UTC: <c>2026-12-06T04:25:44.599431170Z</c>). The <c>since</c>/<c>until</c>
/// query values are <see cref="Berth.Api.ApiTimestamps.ParseQuery"/>.
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
}
