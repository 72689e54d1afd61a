namespace Berth.Cli;

/// <summary>The docker CLI's natural sort (fvbommel/sortorder): runs of digits compare as numbers, "net2" before "net10".</summary>
public sealed class NaturalOrder : IComparer<string>
{
    public static NaturalOrder Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        string a = x ?? "", b = y ?? "";
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                string da = a[si..i].TrimStart('0'), db = b[sj..j].TrimStart('0');
                int byNumber = da.Length != db.Length ? da.Length.CompareTo(db.Length) : string.CompareOrdinal(da, db);
                if (byNumber != 0) return byNumber;
                // Equal values: fewer leading zeros first.
                if (i - si != j - sj) return (i - si).CompareTo(j - sj);
                continue;
            }
            if (a[i] != b[j]) return a[i].CompareTo(b[j]);
            i++;
            j++;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }
}
