using Berth.Runtime.State;

namespace Berth.Runtime.Tests;

/// <summary>state.json's writes: each one whole, whatever a killed command left behind.</summary>
public sealed class StateStoreTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("berth-statestore-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_write_replaces_the_state_and_leaves_no_temporary_copy()
    {
        var store = new StateStore(_root);
        Directory.CreateDirectory(store.DirFor("c1"));
        store.Write(new ContainerState { Id = "c1", Bundle = "/b", Rootfs = "/r", InitPid = 1 });
        store.Write(new ContainerState { Id = "c1", Bundle = "/b", Rootfs = "/r", InitPid = 2 });

        Assert.Equal(2, store.Read("c1").InitPid);
        Assert.Equal([StateStore.StateFile], Directory.GetFiles(store.DirFor("c1")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_write_goes_over_the_temporary_copy_of_a_command_killed_before_its_rename()
    {
        var store = new StateStore(_root);
        string dir = store.DirFor("c2");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, StateStore.StateFile + ".tmp"), new string('x', 10_000));
        store.Write(new ContainerState { Id = "c2", Bundle = "/b", Rootfs = "/r", InitPid = 3 });

        Assert.Equal(3, store.Read("c2").InitPid);
        Assert.Equal([StateStore.StateFile], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_new_file_is_written_whole_over_a_leftover()
    {
        string path = Path.Combine(_root, "config.json");
        File.WriteAllText(path, new string('x', 10_000));
        StateStore.WriteNewFile(path, "{}"u8.ToArray());
        Assert.Equal("{}", File.ReadAllText(path));
    }
}
