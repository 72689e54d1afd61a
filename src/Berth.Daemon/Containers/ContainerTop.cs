using System.Diagnostics;
using System.Text.RegularExpressions;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>A <c>top</c> that failed, with dockerd's message (every one is a 500 there, the ps_args check included).</summary>
public sealed class ContainerTopException(string message) : Exception(message);

/// <summary>
/// <c>GET /containers/{id}/top?ps_args=</c> as dockerd 20.10 does it: <c>ps ARGS -q PIDS</c> (ARGS split at each
/// space, <c>-ef</c> when empty), retried without <c>-q</c> when ps refuses it (forest listings), then the header and
/// the rows whose PID column is one of the container's pids (and the thread rows, "-" in PID, that follow one).
/// </summary>
public static partial class ContainerTop
{
    static readonly TimeSpan PsTimeout = TimeSpan.FromSeconds(30);

    /// <param name="pids">The container's processes (its cgroup's, from the exec driver).</param>
    /// <exception cref="ContainerTopException">ps_args names PID for another column, ps failed, or its output has no PID column.</exception>
    public static ContainerTopResponse Run(IReadOnlyCollection<int> pids, string? psArgs)
    {
        psArgs = string.IsNullOrEmpty(psArgs) ? "-ef" : psArgs;
        Validate(psArgs);
        var args = psArgs.Split(' ');
        var (code, output, error) = Ps([.. args, "-q", string.Join(',', pids)]);
        if (code != 0)
        {
            (code, output, error) = Ps(args);
            if (code != 0)
            {
                string first = error.Split('\n')[0];
                throw new ContainerTopException("ps: " + (first.Length > 0 ? first : $"exit status {code}"));
            }
        }
        return Parse(output, pids);
    }

    /// <summary>dockerd refuses a header renamed to PID for any column but pid ("-o user=PID"): it would be taken for the pid.</summary>
    /// <exception cref="ContainerTopException"><c>specifying "user=PID" is not allowed</c>.</exception>
    public static void Validate(string psArgs)
    {
        foreach (Match m in RenamedToPid().Matches(psArgs))
            if (m.Groups[1].Value != "pid")
                throw new ContainerTopException($"specifying \"{m.Groups[1].Value}={m.Groups[2].Value}\" is not allowed");
    }

    /// <summary>ps's output → the titles and the container's rows (a row with more fields than titles has its last ones joined by a space).</summary>
    /// <exception cref="ContainerTopException">No PID column, or a PID that is no number.</exception>
    public static ContainerTopResponse Parse(string output, IReadOnlyCollection<int> pids)
    {
        var lines = output.Split('\n');
        var result = new ContainerTopResponse { Titles = Fields(lines[0]) };
        int pidColumn = result.Titles.IndexOf("PID");
        if (pidColumn < 0) throw new ContainerTopException("Couldn't find PID field in ps output");
        bool afterContainerProcess = false;
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0) continue;
            var fields = Fields(line);
            string pid = pidColumn < fields.Count ? fields[pidColumn] : "";
            if (pid == "-")
            {
                // A thread line (ps -L, m): shown when the process above it is the container's.
                if (afterContainerProcess) result.Processes.Add(Fit(fields, result.Titles.Count));
                continue;
            }
            if (!int.TryParse(pid, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int p))
                throw new ContainerTopException($"Unexpected pid '{pid}': strconv.Atoi: parsing \"{pid}\": invalid syntax");
            afterContainerProcess = pids.Contains(p);
            if (afterContainerProcess) result.Processes.Add(Fit(fields, result.Titles.Count));
        }
        return result;
    }

    static List<string> Fit(List<string> fields, int titles)
    {
        if (fields.Count <= titles) return fields;
        var row = fields.Take(titles - 1).ToList();
        row.Add(string.Join(' ', fields.Skip(titles - 1)));
        return row;
    }

    /// <summary>Split at ASCII white space only (a command line may hold other white space).</summary>
    static List<string> Fields(string line) => [.. line.Split([' ', '\t', '\n', '\v', '\f', '\r'], StringSplitOptions.RemoveEmptyEntries)];

    static (int Code, string Output, string Error) Ps(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var ps = Process.Start(start) ?? throw new ContainerTopException("ps: could not be started");
        var output = ps.StandardOutput.ReadToEndAsync();
        var error = ps.StandardError.ReadToEndAsync();
        if (!ps.WaitForExit(PsTimeout))
        {
            ps.Kill();
            throw new ContainerTopException($"ps: did not finish within {PsTimeout.TotalSeconds} s");
        }
        return (ps.ExitCode, output.Result, error.Result);
    }

    [GeneratedRegex(@"\s+([^\s]*)=\s*(PID[^\s]*)")]
    private static partial Regex RenamedToPid();
}
