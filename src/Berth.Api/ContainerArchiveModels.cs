using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Berth.Api;

/// <summary>
/// What <c>HEAD</c> and <c>GET /containers/{id}/archive</c> say of the path in the header
/// <c>X-Docker-Container-Path-Stat</c>: base64 of this JSON. <see cref="Mode"/> is Go's os.FileMode (permission bits,
/// then type and special bits high up), <see cref="Mtime"/> Go's RFC 3339 with nanoseconds, <see cref="LinkTarget"/>
/// the in-container path a symlink finally resolves to (empty for anything else).
/// </summary>
public sealed class ContainerPathStat
{
    public const string HeaderName = "X-Docker-Container-Path-Stat";

    // Go's os.FileMode bits (io/fs): the type and the special permission bits.
    public const uint ModeDir = 1u << 31, ModeSymlink = 1u << 27, ModeDevice = 1u << 26, ModeNamedPipe = 1u << 25,
        ModeSocket = 1u << 24, ModeSetuid = 1u << 23, ModeSetgid = 1u << 22, ModeCharDevice = 1u << 21, ModeSticky = 1u << 20;

    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("mode")] public uint Mode { get; set; }
    [JsonPropertyName("mtime")] public string Mtime { get; set; } = "";
    [JsonPropertyName("linkTarget")] public string LinkTarget { get; set; } = "";

    [JsonIgnore] public bool IsDirectory => (Mode & ModeDir) != 0;
    [JsonIgnore] public bool IsSymlink => (Mode & ModeSymlink) != 0;

    /// <summary>Go's FileMode of a stat(2) st_mode.</summary>
    public static uint GoFileMode(uint stMode)
    {
        uint mode = stMode & 0x1ff;
        if ((stMode & 0x800) != 0) mode |= ModeSetuid;
        if ((stMode & 0x400) != 0) mode |= ModeSetgid;
        if ((stMode & 0x200) != 0) mode |= ModeSticky;
        return (stMode & 0xf000) switch
        {
            0x4000 => mode | ModeDir,
            0xa000 => mode | ModeSymlink,
            0x6000 => mode | ModeDevice,
            0x2000 => mode | ModeDevice | ModeCharDevice,
            0x1000 => mode | ModeNamedPipe,
            0xc000 => mode | ModeSocket,
            _ => mode,
        };
    }

    /// <summary>Go's time.Time in JSON for a UTC instant in seconds and nanoseconds: trailing zeros of the fraction dropped.</summary>
    public static string GoTime(long seconds, long nanos)
    {
        var text = new StringBuilder(DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
        if (nanos != 0) text.Append('.').Append(nanos.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0'));
        return text.Append('Z').ToString();
    }

    public string ToHeader() => Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(this, ApiJson.Context.ContainerPathStat));

    /// <exception cref="FormatException">The header is not base64 of the JSON.</exception>
    public static ContainerPathStat FromHeader(string value)
    {
        try
        {
            return JsonSerializer.Deserialize(Convert.FromBase64String(value), ApiJson.Context.ContainerPathStat)
                ?? throw new FormatException($"the {HeaderName} header is null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"the {HeaderName} header is not base64 JSON: {e.Message}", e);
        }
    }
}
