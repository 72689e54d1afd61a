using Berth.Daemon.Containers;

namespace Berth.Api.Tests.Containers;

/// <summary>
/// top against ps on this host (the test's own pid stands for a container's process) and against ps output, with
/// the answers and errors dockerd 20.10 gave here for a busybox container running `sh -c 'while :; do :; done'`.
/// </summary>
public sealed class ContainerTopTests
{
    static readonly int Self = Environment.ProcessId;

    [Fact]
    public void DefaultsToDashEfAndKeepsOnlyTheContainersRows()
    {
        var top = ContainerTop.Run([Self], null);
        Assert.Equal(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], top.Titles);
        var row = Assert.Single(top.Processes);
        Assert.Equal(Self.ToString(System.Globalization.CultureInfo.InvariantCulture), row[1]);
        Assert.Equal(8, row.Count); // the command's spaces are joined back into the last column
    }

    [Fact]
    public void PsArgsChooseTheColumns()
    {
        var top = ContainerTop.Run([Self], "-o pid,comm");
        Assert.Equal(["PID", "COMMAND"], top.Titles);
        Assert.Equal(Self.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(top.Processes)[0]);
        Assert.Equal(["USER", "PID"], ContainerTop.Run([Self], "-o user -o pid").Titles);
    }

    [Theory]
    [InlineData("-o comm", "Couldn't find PID field in ps output")]
    [InlineData("-o pid,comm --bogus", "ps: error: unknown gnu long option")]
    [InlineData("-o user=PID", "specifying \"user=PID\" is not allowed")]
    public void ErrorsAreDockerds(string psArgs, string message) =>
        Assert.Equal(message, Assert.Throws<ContainerTopException>(() => ContainerTop.Run([Self], psArgs)).Message);

    [Fact]
    public void PidRenamedToPidIsAllowed() => Assert.Equal(["PID"], ContainerTop.Run([Self], "-o pid=PID").Titles);

    [Fact]
    public void ThreadRowsFollowTheirProcess_AndOthersAreLeftOut()
    {
        const string output = """
              PID   LWP CMD
                1     1 init
               42     - sh -c loop
                -    43 sh -c loop
                -    44 sh -c loop
               50     - other
                -    51 other

            """;
        var top = ContainerTop.Parse(output, [42]);
        Assert.Equal([["42", "-", "sh -c loop"], ["-", "43", "sh -c loop"], ["-", "44", "sh -c loop"]], top.Processes);
        Assert.Equal("Unexpected pid 'x': strconv.Atoi: parsing \"x\": invalid syntax",
            Assert.Throws<ContainerTopException>(() => ContainerTop.Parse("PID CMD\nx y\n", [1])).Message);
    }
}
