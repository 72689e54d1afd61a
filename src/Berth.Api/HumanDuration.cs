namespace Berth.Api;

/// <summary>Go's units.HumanDuration, as dockerd writes it into ps's Status and the docker CLI into its columns.</summary>
public static class HumanDuration
{
    /// <summary>"Less than a second", "5 minutes", "About an hour", "2 weeks", "3 years".</summary>
    public static string Of(TimeSpan d)
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
}
