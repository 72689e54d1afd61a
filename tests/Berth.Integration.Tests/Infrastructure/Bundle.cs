using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Integration.Tests.Infrastructure;

/// <summary>An OCI bundle directory: a busybox-static rootfs and the config.json a test writes.</summary>
public sealed class Bundle
{
    private const string BusyboxHostPath = "/bin/busybox";
    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static readonly Lazy<string[]> Applets = new(ListApplets);

    public Bundle(string path)
    {
        Path = path;
        CreateDirectory(path);
        CreateDirectory(Rootfs);
        foreach (var dir in new[] { "bin", "proc", "sys", "dev", "etc", "tmp", "root" })
            CreateDirectory(System.IO.Path.Combine(Rootfs, dir));
        File.SetUnixFileMode(System.IO.Path.Combine(Rootfs, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));

        var busybox = System.IO.Path.Combine(Rootfs, "bin", "busybox");
        CopyExecutable(BusyboxHostPath, busybox);
        foreach (var applet in Applets.Value)
        {
            var link = System.IO.Path.Combine(Rootfs, "bin", applet);
            if (!File.Exists(link))
                File.CreateSymbolicLink(link, "busybox");
        }
    }

    public string Path { get; }

    /// <summary>
    /// Copies a file that is about to be executed with cp(1), so that this process never holds it open for writing:
    /// a child that another test thread forks in that moment would inherit the fd until its own exec, and an execve
    /// of the file then fails with ETXTBSY (exit 126 from the shell; a CI run met that with a runtime copy).
    /// </summary>
    public static void CopyExecutable(string source, string destination)
    {
        using var cp = Process.Start(new ProcessStartInfo("cp", ["--", source, destination]) { RedirectStandardError = true })!;
        string error = cp.StandardError.ReadToEnd();
        if (!cp.WaitForExit(30_000)) throw new TimeoutException($"cp {source} {destination} took over 30 s");
        if (cp.ExitCode != 0) throw new IOException($"cp {source} {destination} exited {cp.ExitCode}: {error}");
    }


    public string Rootfs => System.IO.Path.Combine(Path, "rootfs");

    public string ConfigPath => System.IO.Path.Combine(Path, "config.json");

    public void WriteConfig(JsonObject spec) =>
        File.WriteAllText(ConfigPath, spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>A path inside the rootfs, for preparing files the container will see.</summary>
    public string InRootfs(string containerPath) => System.IO.Path.Combine(Rootfs, containerPath.TrimStart('/'));

    /// <summary>chown -R (not following symlinks) of the whole rootfs, for user-namespace tests.</summary>
    public void ChownRootfs(int uid, int gid) => RunTool("chown", "-R", "-h", $"{uid}:{gid}", Rootfs);

    public static void CreateDirectory(string path)
    {
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, DirectoryMode);
    }

    private static string[] ListApplets()
    {
        var output = RunTool(BusyboxHostPath, "--list");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(a => !a.Contains('/'))
            .ToArray();
    }

    internal static string RunTool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr}");
        return stdout.GetAwaiter().GetResult();
    }
}
