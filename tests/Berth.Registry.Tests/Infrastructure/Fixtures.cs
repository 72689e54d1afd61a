using Berth.Images;
using Berth.Images.Registry;

namespace Berth.Registry.Tests.Infrastructure;

/// <summary>One registry without auth, shared by a test class (tests use their own repository names).</summary>
public sealed class PlainRegistryFixture : IDisposable
{
    public RegistryProcess Registry { get; } = new();
    public void Dispose() => Registry.Dispose();
}

/// <summary>One registry with htpasswd basic auth.</summary>
public sealed class AuthRegistryFixture : IDisposable
{
    public RegistryProcess Registry { get; } = new(basicAuth: true);
    public void Dispose() => Registry.Dispose();
}

/// <summary>An image service on its own temp root, and the progress lines it reported.</summary>
public sealed class Store : IDisposable
{
    private readonly TempDir _dir = new("berth-images-store-");

    public Store(RegistryClientOptions? options = null) =>
        Service = new ImageService(_dir.Path, (options ?? new RegistryClientOptions()) with { RetryDelay = TimeSpan.FromMilliseconds(20) });

    public ImageService Service { get; }
    public string Root => _dir.Path;
    public System.Collections.Concurrent.ConcurrentQueue<ProgressEvent> Events { get; } = new();
    public void Report(ProgressEvent e) => Events.Enqueue(e);
    public PullOptions PullOptions => new() { Progress = Report };

    /// <summary>Files anywhere under the content root's blobs and ingest directories.</summary>
    public string[] ContentFiles() =>
        [.. Directory.GetFiles(Path.Combine(Root, "content"), "*", SearchOption.AllDirectories)];

    public void Dispose()
    {
        Service.Dispose();
        _dir.Dispose();
    }
}
