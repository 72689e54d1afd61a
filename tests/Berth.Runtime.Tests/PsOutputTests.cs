namespace Berth.Runtime.Tests;

public class PsOutputTests
{
    const string Ps =
        "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
        "root           1       0  0 17:00 ?        00:00:01 /sbin/init\n" +
        "root        4242       1  0 17:01 ?        00:00:00 sleep 100\n" +
        "root        4243    4242  0 17:01 ?        00:00:00 sh -c 4242\n";

    [Fact]
    public void KeepsTheHeaderAndTheContainersRowsByThePidColumn()
    {
        string filtered = PsOutput.Filter(Ps, new HashSet<int> { 4242 });
        Assert.Equal(
            ["UID          PID    PPID  C STIME TTY          TIME CMD", "root        4242       1  0 17:01 ?        00:00:00 sleep 100"],
            filtered.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void FindsThePidColumnWhereverPsPutsIt()
    {
        string filtered = PsOutput.Filter("S   PID CMD\nS  77 a\nR  78 b\n", new HashSet<int> { 78 });
        Assert.Equal("S   PID CMD\nR  78 b\n", filtered);
    }

    [Fact]
    public void OutputWithoutAPidColumnIsRefused()
    {
        var e = Assert.Throws<ContainerException>(() => PsOutput.Filter("USER CMD\nroot x\n", new HashSet<int> { 1 }));
        Assert.Contains("no PID column in the ps header \"USER CMD\"", e.Message);
    }
}
