namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>The kernel's keys as /proc/keys shows them to root: the session keyrings ("_ses.ID") containers join.</summary>
public static class Keyrings
{
    /// <summary>Session keyrings named after a container whose id satisfies <paramref name="isOurs"/>.</summary>
    public static List<string> SessionKeyrings(Func<string, bool> isOurs)
    {
        const string prefix = "_ses.";
        var found = new List<string>();
        foreach (var line in File.ReadLines("/proc/keys"))
        {
            // "16af3319 I--Q---  45 perm 3f130000  0  0 keyring  _ses.ID: empty"
            int at = line.IndexOf(" keyring ", StringComparison.Ordinal);
            if (at < 0) continue;
            string description = line[(at + " keyring ".Length)..].TrimStart();
            int colon = description.LastIndexOf(':');
            string name = colon < 0 ? description : description[..colon];
            if (name.StartsWith(prefix, StringComparison.Ordinal) && isOurs(name[prefix.Length..])) found.Add(line);
        }
        return found;
    }

    /// <summary>
    /// Waits until no such keyring is left: the kernel frees a keyring in a garbage-collection pass after its last user
    /// (the container's processes) is gone, seconds later. Returns what is still there at the end of <paramref name="grace"/>.
    /// </summary>
    public static List<string> WaitForNone(Func<string, bool> isOurs, TimeSpan grace)
    {
        var deadline = DateTime.UtcNow + grace;
        List<string> left;
        while ((left = SessionKeyrings(isOurs)).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(200);
        return left;
    }
}
