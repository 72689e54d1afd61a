using System.Globalization;

namespace Berth.Runtime;

/// <summary>Memory sizes as runc's update flags take them: "-1" (unlimited), a byte count, or a number with a binary unit ("512m", "1.5GiB").</summary>
public static class ByteSize
{
    /// <summary>Parses <paramref name="text"/>; the error names <paramref name="what"/> (the flag) and the value.</summary>
    public static long Parse(string text, string what)
    {
        string s = text.Trim().ToLowerInvariant();
        if (s == "-1")
            return -1;
        int end = 0;
        while (end < s.Length && (char.IsAsciiDigit(s[end]) || s[end] == '.'))
            end++;
        string unit = s[end..];
        long multiplier = unit switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            "p" or "pb" or "pib" => 1L << 50,
            _ => 0,
        };
        if (end == 0 || multiplier == 0 || !decimal.TryParse(s[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            throw new ContainerException($"{what} \"{text}\": not a size (a number of bytes, -1, or a number with a unit such as 512m or 1g)");
        decimal bytes = number * multiplier;
        if (bytes > long.MaxValue)
            throw new ContainerException($"{what} \"{text}\": too large");
        return (long)bytes;
    }
}
