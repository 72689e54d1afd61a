namespace Berth.Cgroups;

/// <summary>
/// One planned write of a resource setting: <paramref name="Value"/> to <paramref name="File"/> in the directory
/// of hierarchy <paramref name="Key"/> (a <see cref="CgroupManager.Paths"/> key). <paramref name="Field"/> is the
/// JSON path it comes from, for error messages. <paramref name="VerifyReadBack"/>: the kernel silently clamps
/// the value (v1 cpu.shares), so read it back and refuse a difference. <paramref name="RetryAfterNext"/>: a
/// failure may only mean the next write has to land first (v1 cfs period vs quota), so retry it after that one.
/// </summary>
public readonly record struct ResourceWrite(
    string Key, string File, string Value, string Field, bool VerifyReadBack = false, bool RetryAfterNext = false);
