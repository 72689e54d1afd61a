using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.Images.Tests;

/// <summary>
/// A <c>docker save</c> archive written by hand (legacy layout: LAYER/layer.tar, HEX.json, manifest.json), so a test
/// can give it any RepoTags and layers, also ones docker would never write. Layers are plain tars; their diff_ids are
/// their digests unless a test passes others. Shared with the daemon tests.
/// </summary>
public sealed class SaveArchiveBuilder
{
    readonly List<(string Name, byte[] Data)> _files = [];
    readonly JsonArray _manifest = [];

    public static string Sha256(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Adds an image of <paramref name="layers"/> (plain tars, bottom first) tagged with <paramref name="repoTags"/>; returns its id.</summary>
    public string Image(IReadOnlyList<string> repoTags, IReadOnlyList<byte[]> layers, IReadOnlyList<string>? diffIds = null, string cmd = "/bin/sh",
        Action<JsonObject>? configure = null)
    {
        var layerNames = new JsonArray();
        foreach (var layer in layers)
        {
            string name = $"{Sha256(layer)[7..]}/layer.tar";
            if (!_files.Any(f => f.Name == name)) _files.Add((name, layer));
            layerNames.Add(name);
        }
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["created"] = "2024-01-01T00:00:00Z",
            ["config"] = Configured(new JsonObject { ["Cmd"] = new JsonArray(cmd) }, configure),
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray([.. (diffIds ?? [.. layers.Select(Sha256)]).Select(d => (JsonNode)d)]),
            },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        string id = Sha256(configBytes);
        _files.Add(($"{id[7..]}.json", configBytes));
        _manifest.Add(new JsonObject
        {
            ["Config"] = $"{id[7..]}.json",
            ["RepoTags"] = new JsonArray([.. repoTags.Select(t => (JsonNode)t)]),
            ["Layers"] = layerNames,
        });
        return id;
    }

    static JsonObject Configured(JsonObject config, Action<JsonObject>? configure)
    {
        configure?.Invoke(config);
        return config;
    }

    /// <summary>The archive: layers and configs in the order added, manifest.json last (as docker writes it).</summary>
    public byte[] Build()
    {
        var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, data) in _files.Append(("manifest.json", Encoding.UTF8.GetBytes(_manifest.ToJsonString()))))
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data), ModificationTime = DateTimeOffset.UnixEpoch });
        }
        return ms.ToArray();
    }

    /// <summary>A plain layer (or rootfs) tar of regular files and hardlinks: ("name", "content") or ("name", "->target") for a hardlink.</summary>
    public static byte[] Tar(params (string Name, string Content)[] entries)
    {
        var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                var entry = content.StartsWith("->", StringComparison.Ordinal)
                    ? new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = content[2..] }
                    : new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };
                entry.Mode = (UnixFileMode)0x1a4;
                entry.ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
                writer.WriteEntry(entry);
            }
        }
        return ms.ToArray();
    }
}
