using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Api;

namespace Berth.Cli;

/// <summary>
/// One `--mount` value in docker's CSV syntax (`type=bind,source=/h,target=/m,readonly`) → the HostConfig.Mounts entry
/// docker's CLI sends (its opts.MountOpt): keys and their aliases, booleans with or without a value, and its sentences
/// for what it refuses. The daemon then judges the mount itself.
/// </summary>
public static class MountFlag
{
    public static MountSpec Parse(string value)
    {
        string Invalid(string why) => $"invalid argument \"{value}\" for \"--mount\" flag: {why}";
        var mount = new MountSpec { Type = "volume" }; // docker's default
        JsonObject? bind = null, volume = null, tmpfs = null;
        foreach (string field in SplitCsv(value, Invalid))
        {
            int eq = field.IndexOf('=');
            string key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant();
            string? val = eq < 0 ? null : field[(eq + 1)..];
            bool Flag()
            {
                if (val is null) return true;
                return val.ToLowerInvariant() switch
                {
                    "1" or "true" => true,
                    "0" or "false" => false,
                    _ => throw new FormatException(Invalid($"invalid value for {key}: {val}")),
                };
            }
            string Value() => val ?? throw new FormatException(Invalid($"invalid field '{field}' must be a key=value pair"));
            switch (key)
            {
                case "type": mount.Type = Value().ToLowerInvariant(); break;
                case "source" or "src": mount.Source = Value(); break;
                case "target" or "dst" or "destination": mount.Target = Value(); break;
                case "readonly" or "ro": mount.ReadOnly = Flag(); break;
                case "consistency": mount.Consistency = Value(); break;
                case "bind-propagation": (bind ??= [])["Propagation"] = Value().ToLowerInvariant(); break;
                case "bind-nonrecursive": (bind ??= [])["NonRecursive"] = Flag(); break;
                case "volume-nocopy": (volume ??= [])["NoCopy"] = Flag(); break;
                case "volume-driver": Sub(volume ??= [], "DriverConfig")["Name"] = Value(); break;
                case "volume-label": AddPair(Sub(volume ??= [], "Labels"), Value()); break;
                case "volume-opt": AddPair(Sub(Sub(volume ??= [], "DriverConfig"), "Options"), Value()); break;
                case "tmpfs-size": (tmpfs ??= [])["SizeBytes"] = FlagValues.Bytes("--mount", Value()); break;
                case "tmpfs-mode":
                    if (!TryOctal(Value(), out long mode))
                        throw new FormatException(Invalid($"invalid value for {key}: {val}"));
                    (tmpfs ??= [])["Mode"] = mode;
                    break;
                default:
                    throw new FormatException(Invalid($"unexpected key '{key}' in '{field}'"));
            }
        }
        if (string.IsNullOrEmpty(mount.Target)) throw new FormatException(Invalid("target is required"));
        if (bind is not null && mount.Type != "bind") throw new FormatException(Invalid($"cannot mix 'bind-*' options with mount type '{mount.Type}'"));
        if (volume is not null && mount.Type != "volume") throw new FormatException(Invalid($"cannot mix 'volume-*' options with mount type '{mount.Type}'"));
        if (tmpfs is not null && mount.Type != "tmpfs") throw new FormatException(Invalid($"cannot mix 'tmpfs-*' options with mount type '{mount.Type}'"));
        mount.BindOptions = Element(bind);
        mount.VolumeOptions = Element(volume);
        mount.TmpfsOptions = Element(tmpfs);
        return mount;
    }

    static JsonObject Sub(JsonObject parent, string name) =>
        parent[name] as JsonObject ?? (JsonObject)(parent[name] = new JsonObject());

    static void AddPair(JsonObject map, string item)
    {
        int eq = item.IndexOf('=');
        map[eq < 0 ? item : item[..eq]] = eq < 0 ? "" : item[(eq + 1)..];
    }

    static bool TryOctal(string text, out long value)
    {
        value = 0;
        foreach (char c in text)
        {
            if (c is < '0' or > '7') return false;
            value = value * 8 + (c - '0');
        }
        return text.Length > 0;
    }

    static JsonElement? Element(JsonObject? o) =>
        o is null ? null : JsonDocument.Parse(o.ToJsonString()).RootElement.Clone();

    /// <summary>Comma-separated fields, a field in double quotes keeping its commas (Go's csv reader, as docker's CLI uses).</summary>
    static List<string> SplitCsv(string value, Func<string, string> invalid)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '"')
            {
                if (quoted && i + 1 < value.Length && value[i + 1] == '"') { current.Append('"'); i++; }
                else quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else current.Append(c);
        }
        if (quoted) throw new FormatException(invalid("extraneous or missing \" in quoted-field"));
        fields.Add(current.ToString());
        return [.. fields.Where(f => f.Length > 0)];
    }
}
