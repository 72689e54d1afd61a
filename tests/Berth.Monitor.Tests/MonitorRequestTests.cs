using System.Text.Json;
using Berth.ExecDrivers;

namespace Berth.Monitor.Tests;

/// <summary>monitor.json as berthd saves it (source-generated) and the monitor reads it (a hand reader).</summary>
public sealed class MonitorRequestTests
{
    static MonitorRequest Sample(bool runc) => new()
    {
        Id = "abc",
        Bundle = "/b",
        Driver = runc ? new DriverSpec { Name = "runc", Path = "/usr/sbin/runc", Root = "/r" } : new DriverSpec { Name = "berth", Root = "/r" },
        Terminal = true,
        OpenStdin = true,
        StdinOnce = runc,
        Log = runc ? new LogSpec { Driver = "none" } : new LogSpec { Path = "/l/abc-json.log", MaxSize = 1 << 20, MaxFile = 3 },
        ExitFile = "/d/exit.json",
        Socket = "/m/monitor.sock",
        PidFile = "/e/monitor.pid",
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_what_Save_writes(bool runc)
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("monitor-request-").FullName, "monitor.json");
        try
        {
            var written = Sample(runc);
            written.Save(file);
            var read = MonitorRequest.Load(file);
            Assert.Equal(JsonSerializer.Serialize(written, DriverJsonContext.Default.MonitorRequest), JsonSerializer.Serialize(read, DriverJsonContext.Default.MonitorRequest));
            Assert.Equal(written.Log, read.Log);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Theory]
    [InlineData("""{"Bundle":"/b","Driver":{"Name":"berth","Root":"/r"},"ExitFile":"/x","Socket":"/s","PidFile":"/p"}""", "$.Id is required")]
    [InlineData("""{"Id":"a","Bundle":"/b","Driver":{"Name":"berth"},"ExitFile":"/x","Socket":"/s","PidFile":"/p"}""", "$.Driver.Root is required")]
    [InlineData("""{"Id":"a","Bundle":"/b","Driver":"berth","ExitFile":"/x","Socket":"/s","PidFile":"/p"}""", "$.Driver is not a JSON object")]
    [InlineData("""[1]""", "$ is not a JSON object")]
    [InlineData("""{"Id":7}""", "$.Id must be a string")]
    [InlineData("""{"Id":"a","Log":{"MaxFile":-1}}""", "$.Log.MaxFile must be a whole number from 0 to 2147483647")]
    [InlineData("""{"Id":"a",""", "")]
    public void Refuses_a_request_that_is_not_one_and_says_where(string json, string expected)
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("monitor-request-").FullName, "monitor.json");
        try
        {
            File.WriteAllText(file, json);
            var e = Assert.Throws<ExecDriverException>(() => MonitorRequest.Load(file));
            Assert.StartsWith($"{file}: not a valid monitor request: ", e.Message);
            Assert.Contains(expected, e.Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }
}
