namespace Berth.Images;

/// <summary>
/// One progress line of a pull or push, shaped like dockerd's NDJSON messages: <c>{"status": Status,
/// "id": Id, "progressDetail": {"current": Current, "total": Total}}</c>. Id is a layer's short digest,
/// or the tag for "Pulling from", or null for whole-operation lines ("Digest: ...", "Status: ...").
/// </summary>
public sealed record ProgressEvent(string? Id, string Status, long? Current = null, long? Total = null);

/// <summary>The status strings dockerd prints, for berthd to pass through unchanged.</summary>
public static class ProgressStatus
{
    public const string PullingFsLayer = "Pulling fs layer";
    public const string Waiting = "Waiting";
    public const string Downloading = "Downloading";
    public const string Retrying = "Retrying";
    public const string VerifyingChecksum = "Verifying Checksum";
    public const string DownloadComplete = "Download complete";
    public const string Extracting = "Extracting";
    public const string PullComplete = "Pull complete";
    public const string AlreadyExists = "Already exists";
    public const string Preparing = "Preparing";
    public const string Pushing = "Pushing";
    public const string Pushed = "Pushed";
    public const string LayerAlreadyExists = "Layer already exists";

    public static string PullingFrom(string path) => $"Pulling from {path}";
    public static string MountedFrom(string familiarPath) => $"Mounted from {familiarPath}";
    public static string DigestLine(Digest digest) => $"Digest: {digest}";
    public static string DownloadedNewer(string familiar) => $"Status: Downloaded newer image for {familiar}";
    public static string UpToDate(string familiar) => $"Status: Image is up to date for {familiar}";
    public static string PushRefersTo(string familiarName) => $"The push refers to repository [{familiarName}]";
    public static string PushedDigest(string tag, Digest digest, long size) => $"{tag}: digest: {digest} size: {size}";
}
