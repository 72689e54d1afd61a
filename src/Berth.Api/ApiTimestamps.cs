using System.Globalization;

namespace Berth.Api;

/// <summary>The <c>since</c>/<c>until</c> query values of logs and events: unix seconds with an optional fraction.</summary>
public static class ApiTimestamps
{
    const long NanosPerSecond = 1_000_000_000;

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
        try { return checked(seconds * NanosPerSecond + nanos); }
        catch (OverflowException) { return seconds < 0 ? long.MinValue : long.MaxValue; } // beyond year 2262: as good as never
    }

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
