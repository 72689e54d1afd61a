using Berth.Api;
using Berth.Daemon.Api;

namespace Berth.Daemon.Images;

/// <summary>
/// Everything the image endpoints ask of the image library. Names are passed as the client wrote them
/// (<c>busybox</c>, <c>docker.io/library/busybox:latest</c>, a short or full id): normalising them is the
/// backend's job. Outcomes a client acts on are thrown as <see cref="ApiException"/> (404 unknown image,
/// 409 in use, 400 bad reference); anything else becomes a 500 with its message.
/// Streamed operations report through the sink; a failure thrown after the first message reaches the
/// client as an error line, before it as a plain status.
/// </summary>
public interface IImageBackend
{
    /// <summary>How many images the store holds (GET /info "Images").</summary>
    Task<int> CountAsync(CancellationToken ct);

    /// <summary>POST /images/create?fromImage=&amp;tag=&amp;platform= : pull from a registry.</summary>
    /// <param name="image">fromImage, possibly with a tag or digest.</param>
    /// <param name="tag">tag, or a digest; null or empty when absent.</param>
    /// <param name="platform">os[/arch[/variant]], or null for the host's.</param>
    Task PullAsync(string image, string? tag, string? platform, AuthConfig? auth, IProgressSink progress, CancellationToken ct);

    /// <summary>POST /images/{name}/push?tag= : push to the registry the name points at.</summary>
    Task PushAsync(string name, string? tag, AuthConfig? auth, IProgressSink progress, CancellationToken ct);

    /// <summary>GET /images/json?all=&amp;filters= (filters already parsed; unknown keys are the backend's to reject).</summary>
    Task<IReadOnlyList<ImageSummary>> ListAsync(bool all, ApiFilters filters, CancellationToken ct);

    /// <summary>GET /images/{name}/json.</summary>
    Task<ImageInspect> InspectAsync(string name, CancellationToken ct);

    /// <summary>GET /images/{name}/history, newest first.</summary>
    Task<IReadOnlyList<ImageHistoryItem>> HistoryAsync(string name, CancellationToken ct);

    /// <summary>POST /images/{name}/tag?repo=&amp;tag= .</summary>
    Task TagAsync(string name, string repository, string? tag, CancellationToken ct);

    /// <summary>DELETE /images/{name}?force=&amp;noprune= : what was untagged and deleted, in order.</summary>
    Task<IReadOnlyList<ImageDeleteResponseItem>> RemoveAsync(string name, bool force, bool noPrune, CancellationToken ct);

    /// <summary>POST /images/load?quiet= : a docker-save or OCI-layout tar. Reports "Loaded image: ..." as stream lines.</summary>
    Task LoadAsync(Stream tar, bool quiet, IProgressSink progress, CancellationToken ct);

    /// <summary>
    /// GET /images/get?names= : writes a docker-save tar of the images to <paramref name="output"/>.
    /// Check every name before the first byte: an unknown one must still become a 404.
    /// </summary>
    Task SaveAsync(IReadOnlyList<string> names, Stream output, CancellationToken ct);

    /// <summary>POST /images/create?fromSrc=-&amp;repo=&amp;tag=&amp;changes= : a rootfs tar as a one-layer image. Returns its id.</summary>
    Task<string> ImportAsync(Stream tar, string? repository, string? tag, IReadOnlyList<string> changes, string? message,
        IProgressSink progress, CancellationToken ct);
}
