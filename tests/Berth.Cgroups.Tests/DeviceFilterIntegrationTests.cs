using System.Diagnostics;
using Berth.Oci;
using Process = System.Diagnostics.Process;

namespace Berth.Cgroups.Tests;

/// <summary>The eBPF device filter on this host's real cgroup2 hierarchy (on a hybrid host: the unified mount).</summary>
public class DeviceFilterIntegrationTests
{
    static LinuxDeviceCgroup Rule(bool allow, string? type = null, long? major = null, long? minor = null, string access = "rwm") =>
        new() { Allow = allow, Type = type, Major = major, Minor = minor, Access = access };

    [RootFact(NeedsCgroup2 = true)]
    public void AttachedFilter_DeniesWhatItsRulesDeny_AndAReattachReplacesIt()
    {
        var unified = CgroupHost.Detect().Unified!;
        string dir = Path.Combine(unified.CallerDirectory, "berth-it-bpf-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        Process? sh = null;
        try
        {
            // First a filter that denies reading /dev/zero, then the one under test: if the first stayed
            // attached, the read of /dev/zero below would fail.
            BpfDeviceFilterAttacher.Instance.Attach(dir, DeviceFilter.Compile([Rule(true), Rule(false, "c", 1, 5, "r")]));
            uint first = Assert.Single(BpfDeviceFilterAttacher.AttachedPrograms(dir));
            BpfDeviceFilterAttacher.Instance.Attach(dir, DeviceFilter.Compile([Rule(true), Rule(false, "c", 1, 3, "w")]));
            uint second = Assert.Single(BpfDeviceFilterAttacher.AttachedPrograms(dir));
            Assert.NotEqual(first, second);

            // The shell waits for a line so that it opens the devices only once it is inside the cgroup.
            var info = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("read go; echo x > /dev/null; echo write-null=$?; cat /dev/null; echo read-null=$?; head -c 3 /dev/zero | wc -c");
            sh = Process.Start(info)!;
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), sh.Id.ToString());
            sh.StandardInput.WriteLine("go");
            sh.StandardInput.Close();
            string output = sh.StandardOutput.ReadToEnd(), errors = sh.StandardError.ReadToEnd();
            Assert.True(sh.WaitForExit(5000));

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.NotEqual("write-null=0", lines[0]);
            Assert.Equal(["read-null=0", "3"], lines[1..]);
            Assert.Contains("/dev/null", errors);
            Assert.Contains("Operation not permitted", errors);
        }
        finally
        {
            if (sh is { HasExited: false })
            {
                sh.Kill();
                sh.WaitForExit(5000);
            }
            // The exited shell leaves the cgroup empty; rmdir also drops the attached program.
            for (int i = 0; Directory.Exists(dir); i++)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException) when (i < 50)
                {
                    Thread.Sleep(20);
                }
            }
        }
    }
}
