using System.Reflection;
using System.Runtime.InteropServices;
using Berth.Linux;

namespace Berth.Runtime.Tests;

/// <summary>
/// native/spawn.c and its C# mirrors (Libc.Spawn.cs) describe the same structs and stage numbers twice: these tests
/// read spawn.c's own table (berth_spawn_layout, from the compiled libberthspawn.so) and compare every size, offset
/// and stage with what the C# side declares, in both directions.
/// </summary>
public unsafe class SpawnLayoutTests
{
    static readonly Dictionary<string, Type> Mirrors = new()
    {
        ["berth_spawn_request"] = typeof(SpawnRequest),
        ["berth_process_setup"] = typeof(SpawnProcessSetup),
        ["berth_rlimit"] = typeof(SpawnRlimit),
        ["berth_spawn_error"] = typeof(SpawnError),
    };

    static List<(string Name, int Value)> NativeTable()
    {
        var entries = new List<(string, int)>();
        for (int i = 0; ; i++)
        {
            byte* name = null;
            int value = Libc.berth_spawn_layout(i, &name);
            if (value < 0) return entries;
            entries.Add((Marshal.PtrToStringUTF8((nint)name)!, value));
        }
    }

    /// <summary>snake_case against PascalCase: the same letters once underscores and case are set aside.</summary>
    static string Key(string name) => name.Replace("_", "").ToLowerInvariant();

    [Fact]
    public void EveryStructHasTheSizeAndFieldOffsetsOfItsCounterpart()
    {
        var table = NativeTable();
        foreach (var (cName, type) in Mirrors)
        {
            int size = table.Single(e => e.Name == cName).Value;
            Assert.True(Marshal.SizeOf(type) == size, $"sizeof(struct {cName}) is {size}, Marshal.SizeOf<{type.Name}>() is {Marshal.SizeOf(type)}");

            var cFields = table.Where(e => e.Name.StartsWith(cName + ".", StringComparison.Ordinal))
                .Select(e => (Field: e.Name[(cName.Length + 1)..], Offset: e.Value)).ToList();
            var csFields = type.GetFields(BindingFlags.Public | BindingFlags.Instance);
            Assert.True(cFields.Count == csFields.Length,
                $"struct {cName} has {cFields.Count} fields ({string.Join(", ", cFields.Select(f => f.Field))}), {type.Name} has {csFields.Length} ({string.Join(", ", csFields.Select(f => f.Name))})");
            foreach (var (field, offset) in cFields)
            {
                var match = csFields.SingleOrDefault(f => Key(f.Name) == Key(field));
                Assert.True(match is not null, $"{type.Name} has no field for {cName}.{field}");
                int csOffset = (int)Marshal.OffsetOf(type, match!.Name);
                Assert.True(csOffset == offset, $"{cName}.{field} is at {offset}, {type.Name}.{match.Name} at {csOffset}");
            }
        }
    }

    [Fact]
    public void TheStagesAreNumberedAlikeOnBothSides()
    {
        var stages = NativeTable().Where(e => e.Name.StartsWith("stage.STAGE_", StringComparison.Ordinal))
            .ToDictionary(e => Key(e.Name["stage.STAGE_".Length..]), e => e.Value);
        var managed = Enum.GetValues<SpawnStage>().ToDictionary(s => Key(s.ToString()), s => (int)s);
        Assert.Equal(stages.OrderBy(p => p.Key), managed.OrderBy(p => p.Key));
    }

    [Fact]
    public void AnEmptyRequestNamesNoFd()
    {
        var request = new SpawnRequest();
        Assert.Equal([-1, -1, -1, -1, -1], new[] { request.ExecFd, request.StdinFd, request.StdoutFd, request.StderrFd, request.ReexecFd });
    }
}

public class SupportedPlatformTests
{
    [Fact]
    public void ThisX86_64LinuxMachine_IsSupported() =>
        Assert.Null(SupportedPlatform.Refusal("berth-runtime"));
}
