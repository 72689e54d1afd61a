namespace Berth.Cli;

/// <summary>What docker's prune verbs print: the question asked without -f, and the list of what went.</summary>
public static class PruneOutput
{
    /// <summary>Asks "[y/N]" after <paramref name="warning"/>; anything but yes prints an empty line and answers false.</summary>
    public static bool Confirmed(string warning)
    {
        Console.Out.Write($"WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
        Console.Out.Flush();
        if (Console.In.ReadLine()?.Trim() is "y" or "Y" or "yes" or "Yes") return true;
        Console.Out.WriteLine();
        return false;
    }

    /// <summary>"Deleted KIND:", one line each and an empty line; nothing when none went.</summary>
    public static void Deleted(string kind, List<string>? names)
    {
        if (names is not { Count: > 0 }) return;
        Console.Out.WriteLine($"Deleted {kind}:");
        foreach (string name in names) Console.Out.WriteLine(name);
        Console.Out.WriteLine();
    }
}
