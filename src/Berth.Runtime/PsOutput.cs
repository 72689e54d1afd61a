namespace Berth.Runtime;

/// <summary>Keeps the header of `ps` output and the rows whose PID column is one of the container's processes.</summary>
public static class PsOutput
{
    public static string Filter(string output, IReadOnlySet<int> pids)
    {
        var lines = output.Split('\n');
        if (lines.Length == 0 || lines[0].Trim().Length == 0)
            throw new ContainerException("ps printed nothing (no header line)");
        int column = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
        if (column < 0)
            throw new ContainerException($"no PID column in the ps header \"{lines[0].Trim()}\" (give ps options that print it, e.g. -ef)");
        var kept = new List<string> { lines[0] };
        foreach (string line in lines.Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > column && int.TryParse(fields[column], out int pid) && pids.Contains(pid))
                kept.Add(line);
        }
        return string.Join('\n', kept) + "\n";
    }
}
