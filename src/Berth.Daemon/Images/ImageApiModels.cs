using ApiEmptyObject = Berth.Api.EmptyObject;
using ApiImageConfig = Berth.Api.ContainerConfig;
using System.Globalization;
using Berth.Api;
using Berth.Images;

namespace Berth.Daemon.Images;

/// <summary>The image store's records and configs in the API's shapes, as dockerd fills them.</summary>
public static class ImageApiModels
{
    /// <param name="size">The unpacked size, as dockerd reports it (see <see cref="ImageBackend"/>).</param>
    public static ImageSummary Summary(ImageRecord image, Berth.Images.ImageConfig config, long size) => new()
    {
        Id = image.Id.ToString(),
        Created = (config.Created ?? image.Created ?? image.Added).ToUnixTimeSeconds(),
        Labels = config.Config?.Labels is { } labels ? new Dictionary<string, string>(labels) : null,
        RepoTags = [.. image.FamiliarRepoTags],
        RepoDigests = [.. image.FamiliarRepoDigests],
        Size = size,
        VirtualSize = size,
    };

    public static ImageInspect Inspect(ImageRecord image, Berth.Images.ImageConfig config, long size, IReadOnlyList<string> layerDirsTopFirst) => new()
    {
        Id = image.Id.ToString(),
        RepoTags = [.. image.FamiliarRepoTags],
        RepoDigests = [.. image.FamiliarRepoDigests],
        Comment = config.Comment ?? config.History?.LastOrDefault()?.Comment ?? "",
        Created = Rfc3339Nano(config.Created ?? image.Created ?? image.Added),
        ContainerConfig = new ApiImageConfig(),
        DockerVersion = config.DockerVersion ?? "",
        Author = config.Author ?? "",
        Config = ContainerConfig(config.Config),
        Architecture = config.Architecture,
        Variant = string.IsNullOrEmpty(config.Variant) ? null : config.Variant,
        Os = config.Os,
        Size = size,
        VirtualSize = size,
        GraphDriver = GraphDriver(layerDirsTopFirst),
        RootFS = new ImageRootFs { Type = config.RootFs.Type, Layers = [.. config.RootFs.DiffIds.Select(d => d.ToString())] },
    };

    /// <summary>Newest first; the newest entry carries the image id and tags, older ones "&lt;missing&gt;" (no parent images here).</summary>
    /// <param name="layerSizes">Each layer's unpacked size, bottom first.</param>
    public static List<ImageHistoryItem> History(ImageRecord image, Berth.Images.ImageConfig config, IReadOnlyList<long> layerSizes)
    {
        var entries = config.History is { Count: > 0 } h ? h : [new HistoryEntry { Created = config.Created }];
        var items = new List<ImageHistoryItem>();
        int layer = 0;
        foreach (var entry in entries)
        {
            bool empty = entry.EmptyLayer == true;
            long size = !empty && layer < layerSizes.Count ? layerSizes[layer] : 0;
            if (!empty) layer++;
            items.Add(new ImageHistoryItem
            {
                Created = (entry.Created ?? config.Created ?? image.Added).ToUnixTimeSeconds(),
                CreatedBy = entry.CreatedBy ?? "",
                Comment = entry.Comment ?? "",
                Size = size,
            });
        }
        items.Reverse();
        items[0].Id = image.Id.ToString();
        items[0].Tags = image.RepoTags.Count > 0 ? [.. image.FamiliarRepoTags] : null;
        return items;
    }

    internal static ApiImageConfig ContainerConfig(Berth.Images.ContainerConfig? c)
    {
        var config = new ApiImageConfig();
        if (c is null) return config;
        config.Hostname = c.Hostname ?? "";
        config.Domainname = c.Domainname ?? "";
        config.User = c.User ?? "";
        config.ExposedPorts = c.ExposedPorts?.ToDictionary(kv => kv.Key, _ => new ApiEmptyObject());
        config.Env = c.Env?.ToList();
        config.Cmd = c.Cmd?.ToList();
        config.Volumes = c.Volumes?.ToDictionary(kv => kv.Key, _ => new ApiEmptyObject());
        config.WorkingDir = c.WorkingDir ?? "";
        config.Entrypoint = c.Entrypoint?.ToList();
        config.OnBuild = c.OnBuild?.ToList();
        config.Labels = c.Labels is null ? null : new Dictionary<string, string>(c.Labels);
        config.StopSignal = c.StopSignal;
        // What containers of the image inherit: its HEALTHCHECK and the shell a CMD-SHELL check runs through.
        config.Healthcheck = c.Healthcheck is { } h ? new Berth.Api.HealthConfig
        {
            Test = h.Test?.ToList(), Interval = h.Interval ?? 0, Timeout = h.Timeout ?? 0, StartPeriod = h.StartPeriod ?? 0,
            StartInterval = h.StartInterval ?? 0, Retries = h.Retries ?? 0,
        } : null;
        config.Shell = c.Shell?.ToList();
        return config;
    }

    /// <summary>overlay2's fields: the top layer as UpperDir, the ones below as LowerDir (colon-separated).</summary>
    static GraphDriverData GraphDriver(IReadOnlyList<string> dirsTopFirst)
    {
        var data = new Dictionary<string, string>();
        if (dirsTopFirst.Count > 0) data["UpperDir"] = dirsTopFirst[0];
        if (dirsTopFirst.Count > 1) data["LowerDir"] = string.Join(':', dirsTopFirst.Skip(1));
        return new GraphDriverData { Name = "overlayfs", Data = data };
    }

    /// <summary>Go's RFC3339Nano in UTC: fractional seconds without trailing zeros.</summary>
    public static string Rfc3339Nano(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture) + "Z";
}
