namespace Berth.Registry.Tests.Infrastructure;

/// <summary>A directory removed with its contents when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "berth-registry-") =>
        Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]));

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
