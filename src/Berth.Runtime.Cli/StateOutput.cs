using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Linux;

namespace Berth.Runtime.Cli;

/// <summary>
/// A container as `state` and `list --format json` print it: runc's containerState, field for field and in its order
/// (the OCI state adds rootfs, created and owner to runtime-spec's), "created" as Go's RFC3339Nano in UTC, and the
/// annotations sorted by key as Go writes a map. Tools parse these; the hooks' state (Oci.State) keeps the spec's order.
/// </summary>
public sealed class StateOutput
{
    [JsonPropertyName("ociVersion")] public required string OciVersion { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("pid")] public int Pid { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("bundle")] public required string Bundle { get; init; }
    [JsonPropertyName("rootfs")] public required string Rootfs { get; init; }
    [JsonPropertyName("created")] public required string Created { get; init; }
    [JsonPropertyName("annotations"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SortedDictionary<string, string>? Annotations { get; init; }
    [JsonPropertyName("owner")] public required string Owner { get; init; }

    public static StateOutput From(Oci.State state, string owner) => new()
    {
        OciVersion = state.OciVersion,
        Id = state.Id,
        Pid = state.Pid,
        Status = state.Status,
        Bundle = state.Bundle,
        Rootfs = state.Rootfs ?? "",
        Created = Rfc3339Nano(state.Created ?? DateTimeOffset.UnixEpoch),
        Annotations = state.Annotations is { Count: > 0 } a ? new SortedDictionary<string, string>(a, StringComparer.Ordinal) : null,
        Owner = owner,
    };

    /// <summary>UTC, the fraction without trailing zeros (and without the dot when it is zero), "Z".</summary>
    public static string Rfc3339Nano(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>`state`: indented by two spaces, without a final newline, as runc writes it.</summary>
    public static void WriteIndented(StateOutput state)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            JsonSerializer.Serialize(writer, state, CliJsonContext.Default.StateOutput);
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>`list --format json`: one compact line.</summary>
    public static void WriteList(List<StateOutput> states) =>
        Console.WriteLine(JsonSerializer.Serialize(states, CliJsonContext.Default.ListStateOutput));

    /// <summary>runc's owner column: the name of the state directory's owner, else "#uid".</summary>
    public static string OwnerOf(string stateDir)
    {
        using var fd = Sys.Open(stateDir, Libc.O_PATH);
        uint uid = Sys.FStat(fd).Uid;
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd", Encoding.UTF8))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], out uint u) && u == uid) return fields[0];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No user database to name it from.
        }
        return $"#{uid}";
    }
}
