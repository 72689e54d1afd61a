using System.Globalization;

namespace Berth.Api;

/// <summary>dockerd's text progress (<c>[==>   ]  1.2MB/3.4MB</c>) for clients that print the "progress" field.</summary>
public static class ProgressBar
{
    const int Width = 50;

    public static string Render(long current, long total)
    {
        if (total <= 0) return HumanSize(current);
        int filled = (int)Math.Min(Width, current * Width / total);
        string bar = new string('=', filled) + ">" + new string(' ', Width - filled);
        // go's "%8v/%v" for the numbers, and only the current size once it passes the total.
        string numbers = current > total ? $"{HumanSize(current),8}" : $"{HumanSize(current),8}/{HumanSize(total)}";
        return $"[{bar}] {numbers}";
    }

    /// <summary>Decimal units with four significant digits, as docker's go-units HumanSize.</summary>
    public static string HumanSize(double size)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB"];
        int i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }
        return size.ToString("G4", CultureInfo.InvariantCulture) + units[i];
    }
}
