using Berth.Api;
using Berth.Daemon.Api;

namespace Berth.Daemon.Images;

/// <summary>
/// The backend until the image library is wired in: the store is empty, so listing answers an empty list and
/// every named image is honestly unknown (404); operations that would create images answer 501.
/// </summary>
public sealed class UnavailableImageBackend : IImageBackend
{
    static ApiException NotYet(string what) =>
        ApiException.NotImplemented($"{what} is not implemented yet in berthd: the image store is not built in");

    public Task<int> CountAsync(CancellationToken ct) => Task.FromResult(0);

    public Task PullAsync(string image, string? tag, string? platform, AuthConfig? auth, IProgressSink progress, CancellationToken ct) =>
        throw NotYet("pulling images");

    public Task PushAsync(string name, string? tag, AuthConfig? auth, IProgressSink progress, CancellationToken ct) =>
        throw ApiException.NotFound($"An image does not exist locally with the tag: {name}");

    public Task<IReadOnlyList<ImageSummary>> ListAsync(bool all, ApiFilters filters, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<ImageSummary>>([]);

    public Task<ImageInspect> InspectAsync(string name, CancellationToken ct) => throw ApiException.NoSuchImage(name);

    public Task<IReadOnlyList<ImageHistoryItem>> HistoryAsync(string name, CancellationToken ct) => throw ApiException.NoSuchImage(name);

    public Task TagAsync(string name, string repository, string? tag, CancellationToken ct) => throw ApiException.NoSuchImage(name);

    public Task<IReadOnlyList<ImageDeleteResponseItem>> RemoveAsync(string name, bool force, bool noPrune, CancellationToken ct) =>
        throw ApiException.NoSuchImage(name);

    public Task LoadAsync(Stream tar, bool quiet, IProgressSink progress, CancellationToken ct) => throw NotYet("loading images");

    public Task SaveAsync(IReadOnlyList<string> names, Stream output, CancellationToken ct) =>
        throw ApiException.NoSuchImage(names.Count > 0 ? names[0] : "");

    public Task<string> ImportAsync(Stream tar, string? repository, string? tag, IReadOnlyList<string> changes, string? message,
        IProgressSink progress, CancellationToken ct) => throw NotYet("importing images");
}
