using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Berth.Registry.Tests.Infrastructure;

public static class Tools
{
    /// <summary>A port that was free a moment ago on 127.0.0.1.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The full path of a command, or an exception saying which package provides it (scripts/test.sh installs them).</summary>
    public static string Require(string command, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var path = System.IO.Path.Combine(dir, command);
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException($"{command} not found: apt-get install {package} (scripts/test.sh does)");
    }

    /// <summary>Runs a command to completion; returns exit code, stdout, stderr.</summary>
    public static (int Exit, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string RunOk(string file, params string[] args)
    {
        var (exit, stdout, stderr) = Run(file, args);
        if (exit != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {exit}: {stderr}{stdout}");
        return stdout;
    }
}
