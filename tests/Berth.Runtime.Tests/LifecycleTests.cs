namespace Berth.Runtime.Tests;

public class LifecycleTests
{
    [Fact]
    public void NoProcessMeansStopped() => Assert.Equal(ContainerStatus.Stopped, Lifecycle.Derive(null, 5, fifoExists: true));

    [Fact]
    public void AZombieInitIsStopped() => Assert.Equal(ContainerStatus.Stopped, Lifecycle.Derive(new ProcStat('Z', 5), 5, fifoExists: false));

    [Fact]
    public void AReusedPidIsStopped() => Assert.Equal(ContainerStatus.Stopped, Lifecycle.Derive(new ProcStat('S', 6), 5, fifoExists: false));

    [Fact]
    public void ALiveInitWaitingOnTheFifoIsCreated() => Assert.Equal(ContainerStatus.Created, Lifecycle.Derive(new ProcStat('S', 5), 5, fifoExists: true));

    [Fact]
    public void ALiveInitPastTheFifoIsRunning() => Assert.Equal(ContainerStatus.Running, Lifecycle.Derive(new ProcStat('R', 5), 5, fifoExists: false));

    [Theory]
    [InlineData(ContainerStatus.Created, true, true, true, true)]
    [InlineData(ContainerStatus.Running, false, true, false, true)]
    [InlineData(ContainerStatus.Paused, false, true, false, false)]
    [InlineData(ContainerStatus.Stopped, false, false, true, false)]
    public void OperationsFollowTheOciLifecycle(ContainerStatus s, bool start, bool signal, bool deleteWithoutForce, bool pause)
    {
        Assert.Equal(pause, Lifecycle.CanPause(s));
        Assert.Equal(start, Lifecycle.CanStart(s));
        Assert.Equal(signal, Lifecycle.CanSignal(s));
        Assert.Equal(deleteWithoutForce, Lifecycle.CanDeleteWithoutForce(s));
    }

    [Fact]
    public void ProcStatParsesACommandNameWithSpacesAndParentheses()
    {
        var self = ProcStat.Read(Environment.ProcessId);
        Assert.NotNull(self);
        Assert.True(self.Value.StartTime > 0);
        Assert.Null(ProcStat.Read(int.MaxValue));
    }
}
