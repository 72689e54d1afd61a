using Berth.Api;

namespace Berth.Engine;

/// <summary>
/// The request's Config merged with its image's config, as dockerd merges them when it creates a container: what
/// inspect shows as Config and what the spec is built from.
/// </summary>
public static class ConfigMerge
{
    /// <summary>
    /// Fills what the request left out from the image: user, working dir, entrypoint and command (the image's
    /// command only when the request gives neither an entrypoint nor a command), stop signal and timeout,
    /// healthcheck, exposed ports, volumes and labels; the image's Env entries are appended where the request does
    /// not set the same name. An entrypoint of [""] (<c>--entrypoint ""</c>) clears the image's.
    /// </summary>
    /// <exception cref="ContainerConfigException">There is no command to run.</exception>
    public static ContainerConfig Merge(ContainerConfig request, ContainerConfig? image)
    {
        var merged = Copy(request);
        if (image is not null)
        {
            if (merged.User.Length == 0) merged.User = image.User;
            if (merged.WorkingDir.Length == 0) merged.WorkingDir = image.WorkingDir;
            merged.Env = MergeImageEnv(merged.Env, image.Env);
            // An explicit entrypoint, even [""], keeps the image's command out; an empty (not absent) one keeps the
            // image's entrypoint out but lets its command in.
            if (merged.Entrypoint is not { Count: > 0 })
            {
                if (merged.Cmd is not { Count: > 0 }) merged.Cmd = image.Cmd is null ? null : [.. image.Cmd];
                merged.Entrypoint ??= image.Entrypoint is null ? null : [.. image.Entrypoint];
            }
            if (string.IsNullOrEmpty(merged.StopSignal)) merged.StopSignal = image.StopSignal;
            merged.StopTimeout ??= image.StopTimeout;
            merged.Healthcheck = MergeHealthcheck(merged.Healthcheck, image.Healthcheck);
            merged.ExposedPorts = Union(merged.ExposedPorts, image.ExposedPorts);
            // As dockerd's merge: a request without volumes (the CLI sends {}) takes the image's, none (null) included.
            merged.Volumes = merged.Volumes is { Count: > 0 } ? Union(merged.Volumes, image.Volumes)
                : image.Volumes is null ? null : new(image.Volumes);
            if (image.Labels is { Count: > 0 })
            {
                var labels = new Dictionary<string, string>(image.Labels);
                foreach (var (k, v) in merged.Labels ?? []) labels[k] = v;
                merged.Labels = labels;
            }
        }
        if (merged.Entrypoint is [""]) merged.Entrypoint = null;
        if (merged.Entrypoint is not { Count: > 0 } && merged.Cmd is not { Count: > 0 })
            throw new ContainerConfigException("No command specified");
        return merged;
    }

    /// <summary>As dockerd: the image's HEALTHCHECK fills what the request's leaves unset (test, durations, retries).</summary>
    static HealthConfig? MergeHealthcheck(HealthConfig? request, HealthConfig? image)
    {
        if (image is null) return request;
        if (request is null) return image;
        return new HealthConfig
        {
            Test = request.Test is { Count: > 0 } ? request.Test : image.Test,
            Interval = request.Interval != 0 ? request.Interval : image.Interval,
            Timeout = request.Timeout != 0 ? request.Timeout : image.Timeout,
            StartPeriod = request.StartPeriod != 0 ? request.StartPeriod : image.StartPeriod,
            StartInterval = request.StartInterval != 0 ? request.StartInterval : image.StartInterval,
            Retries = request.Retries != 0 ? request.Retries : image.Retries,
        };
    }

    /// <summary>The process's executable and arguments: entrypoint then command (inspect's Path and Args).</summary>
    public static (string Path, List<string> Args) EntrypointAndArgs(ContainerConfig merged)
    {
        List<string> all = [.. merged.Entrypoint ?? [], .. merged.Cmd ?? []];
        if (all.Count == 0) throw new ContainerConfigException("No command specified");
        return (all[0], all[1..]);
    }

    /// <summary>The image's variables whose names the request does not set, after the request's own.</summary>
    static List<string>? MergeImageEnv(List<string>? request, List<string>? image)
    {
        if (request is not { Count: > 0 }) return image is null ? request : [.. image];
        var names = request.Select(EnvName).ToHashSet(StringComparer.Ordinal);
        return [.. request, .. (image ?? []).Where(e => !names.Contains(EnvName(e)))];
    }

    internal static string EnvName(string entry) => entry.Split('=', 2)[0];

    /// <summary>
    /// Docker's environment rule: a NAME=VALUE replaces the same name in place or is appended; a bare NAME removes
    /// it. Appended entries are not replaced again (dockerd's behaviour: both copies stay).
    /// </summary>
    public static List<string> ReplaceOrAppendEnv(IEnumerable<string> defaults, IEnumerable<string>? overrides)
    {
        var result = defaults.ToList<string?>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < result.Count; i++) index[EnvName(result[i]!)] = i;
        foreach (var entry in overrides ?? [])
        {
            var eq = entry.IndexOf('=');
            if (eq < 0)
            {
                if (index.TryGetValue(entry, out var gone)) result[gone] = null;
                continue;
            }
            if (index.TryGetValue(entry[..eq], out var at)) result[at] = entry;
            else result.Add(entry);
        }
        return [.. result.OfType<string>()];
    }

    static Dictionary<string, EmptyObject>? Union(Dictionary<string, EmptyObject>? request, Dictionary<string, EmptyObject>? image)
    {
        if (image is not { Count: > 0 }) return request;
        var union = new Dictionary<string, EmptyObject>(image);
        foreach (var (k, v) in request ?? []) union[k] = v;
        return union;
    }

    static ContainerConfig Copy(ContainerConfig c) => new()
    {
        Hostname = c.Hostname, Domainname = c.Domainname, User = c.User,
        AttachStdin = c.AttachStdin, AttachStdout = c.AttachStdout, AttachStderr = c.AttachStderr,
        ExposedPorts = c.ExposedPorts is null ? null : new(c.ExposedPorts),
        Tty = c.Tty, OpenStdin = c.OpenStdin, StdinOnce = c.StdinOnce,
        Env = c.Env is null ? null : [.. c.Env], Cmd = c.Cmd is null ? null : [.. c.Cmd],
        Healthcheck = c.Healthcheck, ArgsEscaped = c.ArgsEscaped, Image = c.Image,
        Volumes = c.Volumes is null ? null : new(c.Volumes), WorkingDir = c.WorkingDir,
        Entrypoint = c.Entrypoint is null ? null : [.. c.Entrypoint],
        NetworkDisabled = c.NetworkDisabled, MacAddress = c.MacAddress,
        OnBuild = c.OnBuild is null ? null : [.. c.OnBuild], Labels = c.Labels is null ? null : new(c.Labels),
        StopSignal = c.StopSignal, StopTimeout = c.StopTimeout, Shell = c.Shell is null ? null : [.. c.Shell],
    };
}
