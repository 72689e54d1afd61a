namespace Berth.Oci.Tests;

/// <summary>A spec that passes validation, for tests that break one rule at a time.</summary>
internal static class TestSpecs
{
    public static Spec Valid() => DefaultSpec.Create(rootless: false);

    public static Spec ValidRootless() => DefaultSpec.Create(rootless: true, hostUid: 1000, hostGid: 1000);

    public static Linux Linux(this Spec spec) => spec.Linux!;

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "berth-oci-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
