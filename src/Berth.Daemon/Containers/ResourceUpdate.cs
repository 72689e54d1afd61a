using System.Text.Json;
using Berth.Api;
using Berth.Daemon.Api;
using Berth.Engine;
using Berth.Oci;

namespace Berth.Daemon.Containers;

/// <summary>
/// docker update: the body of POST /containers/{id}/update merged into a container's HostConfig with dockerd's rules
/// and texts, checked as a create's would be, and the resources the running container's cgroup gets from it.
/// </summary>
public static class ResourceUpdate
{
    /// <summary>Fields of docker's UpdateConfig berthd cannot change on a container: refused with a 400 that names them when set.</summary>
    static readonly Dictionary<string, string> Unsupported = new(StringComparer.OrdinalIgnoreCase)
    {
        ["CgroupParent"] = "a container's cgroup parent is fixed at create",
        ["BlkioWeightDevice"] = "block I/O weights",
        ["BlkioDeviceReadBps"] = "block I/O throttling",
        ["BlkioDeviceWriteBps"] = "block I/O throttling",
        ["BlkioDeviceReadIOps"] = "block I/O throttling",
        ["BlkioDeviceWriteIOps"] = "block I/O throttling",
        ["CpuRealtimePeriod"] = "real-time CPU scheduling",
        ["CpuRealtimeRuntime"] = "real-time CPU scheduling",
        ["Devices"] = "devices are fixed at create",
        ["DeviceCgroupRules"] = "device rules are fixed at create",
        ["DeviceRequests"] = "Berth has no GPU or other device drivers",
        ["KernelMemory"] = "kernel memory limits (the kernel has dropped them)",
        ["KernelMemoryTCP"] = "kernel TCP memory limits",
        ["MemorySwappiness"] = "swappiness is fixed at create",
        ["OomKillDisable"] = "the OOM killer setting is fixed at create",
        ["Ulimits"] = "ulimits are fixed at create",
        ["CpuCount"] = "it is Windows-only",
        ["CpuPercent"] = "it is Windows-only",
        ["IOMaximumIOps"] = "it is Windows-only",
        ["IOMaximumBandwidth"] = "it is Windows-only",
    };

    /// <summary>The update body; 400 naming a field berthd cannot change when it is set (not null, 0, "", false or empty).</summary>
    public static ContainerUpdateRequest Parse(byte[] body)
    {
        if (body.Length == 0) return new ContainerUpdateRequest();
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("the update body is not a JSON object");
            foreach (var property in document.RootElement.EnumerateObject())
                if (Unsupported.TryGetValue(property.Name, out string? why) && IsSet(property.Value))
                    throw ApiException.BadRequest($"{property.Name} cannot be updated: {why}");
            return JsonSerializer.Deserialize(body, ApiJson.Context.ContainerUpdateRequest) ?? new ContainerUpdateRequest();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the update body is not a container update: {e.Message}");
        }
    }

    static bool IsSet(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False => false,
        JsonValueKind.Number => value.GetRawText() is not ("0" or "0.0"),
        JsonValueKind.String => value.GetString()!.Length > 0,
        JsonValueKind.Array => value.GetArrayLength() > 0,
        JsonValueKind.Object => value.EnumerateObject().Any(),
        _ => true,
    };

    /// <summary>
    /// The container's HostConfig with the update applied as dockerd applies it (a zero field is left as it is),
    /// then checked as a create's HostConfig is.
    /// </summary>
    /// <exception cref="ApiException">409 for what conflicts with the container's settings, 400 for a bad value, with dockerd's texts.</exception>
    public static HostConfig Merge(ContainerRecordFile record, ContainerUpdateRequest update, ContainerConfig? image, EngineEnvironment environment)
    {
        var host = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(record.HostConfig, ApiJson.Context.HostConfig), ApiJson.Context.HostConfig)!;
        ApiException Conflict(string why) => ApiException.Conflict($"Cannot update container {record.Id}: {why}");
        // dockerd checks the update's own values before it merges them.
        const long minimumMemory = 6 * 1024 * 1024;
        if (update.Memory is > 0 and < minimumMemory) throw ApiException.BadRequest("Minimum memory limit allowed is 6MB");
        if (update.MemoryReservation is > 0 and < minimumMemory) throw ApiException.BadRequest("Minimum memory reservation allowed is 6MB");
        if (update.BlkioWeight != 0) host.BlkioWeight = update.BlkioWeight;
        if (update.CpuShares != 0) host.CpuShares = update.CpuShares;
        if (update.NanoCpus != 0)
        {
            if (update.NanoCpus > 0 && host.CpuPeriod > 0) throw Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
            if (update.NanoCpus > 0 && host.CpuQuota > 0) throw Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
            host.NanoCpus = update.NanoCpus;
        }
        if (update.CpuPeriod != 0)
        {
            if (update.CpuPeriod > 0 && host.NanoCpus > 0) throw Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
            host.CpuPeriod = update.CpuPeriod;
        }
        if (update.CpuQuota != 0)
        {
            if (update.CpuQuota > 0 && host.NanoCpus > 0) throw Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
            host.CpuQuota = update.CpuQuota;
        }
        if (!string.IsNullOrEmpty(update.CpusetCpus)) host.CpusetCpus = update.CpusetCpus;
        if (!string.IsNullOrEmpty(update.CpusetMems)) host.CpusetMems = update.CpusetMems;
        if (update.Memory != 0)
        {
            // The swap limit in force: what was set, or the default of twice the memory (Populate's, as dockerd's).
            long swap = host.MemorySwap == 0 && host.Memory > 0 ? host.Memory * 2 : host.MemorySwap;
            if (update.Memory > swap && update.MemorySwap == 0)
                throw Conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
            if (host.MemorySwap == 0 && host.Memory > 0 && update.MemorySwap == 0) host.MemorySwap = swap; // keep it as it was
            host.Memory = update.Memory;
        }
        if (update.MemorySwap != 0) host.MemorySwap = update.MemorySwap;
        if (update.MemoryReservation != 0) host.MemoryReservation = update.MemoryReservation;
        if (update.PidsLimit is { } pids) host.PidsLimit = pids;
        if (update.RestartPolicy is { Name.Length: > 0 } policy)
        {
            if (host.AutoRemove && policy.Name != "no") throw Conflict("Restart policy cannot be updated because AutoRemove is enabled for the container");
            host.RestartPolicy = new RestartPolicy { Name = policy.Name, MaximumRetryCount = policy.MaximumRetryCount };
        }
        try
        {
            ContainerValidator.Validate(record.Config, image, host, null, environment);
        }
        catch (ContainerConfigException e)
        {
            throw new ApiException(e.StatusCode, e.Message);
        }
        return host;
    }

    /// <summary>
    /// The resources a running container's cgroup gets for <paramref name="host"/>: the memory, CPU and pids limits as
    /// at start; what docker update does not change (devices, swappiness, the OOM killer) is left out, and a pids
    /// limit taken away is written as unlimited.
    /// </summary>
    public static LinuxResources ForRunning(HostConfig host)
    {
        var resources = Populate.Resources(host);
        resources.Devices = null;
        resources.BlockIO = host.BlkioWeight != 0 ? resources.BlockIO : null;
        if (resources.Memory is { } memory)
        {
            memory.Swappiness = null;
            memory.DisableOOMKiller = null;
            // Unlimited swap is no limit at start, but a running cgroup may hold one to lift.
            if (host.MemorySwap == -1 && host.Memory > 0) memory.Swap = -1;
        }
        resources.Pids ??= new LinuxPids { Limit = -1 };
        return resources;
    }
}
