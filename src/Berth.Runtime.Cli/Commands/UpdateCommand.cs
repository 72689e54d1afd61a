using System.CommandLine;
using System.Text.Json;
using Berth.Oci;

namespace Berth.Runtime.Cli.Commands;

/// <summary>
/// `update`, with runc's flags, or `-r FILE|-`: LinuxResources JSON (as containerd sends it on stdin), in which
/// case the other flags are ignored, as with runc. Only what is given changes.
/// </summary>
internal static class UpdateCommand
{
    public static Command Build(GlobalOptions g)
    {
        var id = new Argument<string>("container-id");
        var resources = new Option<string?>("--resources", "-r") { Description = "path to a file with LinuxResources JSON, or - for stdin; other options are then ignored" };
        const string Unsigned = "a non-negative integer", Signed = "an integer";
        var blkioWeight = NumberOption.Optional<ushort>("--blkio-weight", "block IO weight (10 to 1000)", "an integer from 10 to 1000");
        var cpuPeriod = NumberOption.Optional<ulong>("--cpu-period", "CPU CFS period (microseconds)", Unsigned);
        var cpuQuota = NumberOption.Optional<long>("--cpu-quota", "CPU CFS quota within the period (microseconds)", Signed);
        var cpuBurst = NumberOption.Optional<ulong>("--cpu-burst", "CPU CFS burst (microseconds)", Unsigned);
        var cpuRtPeriod = NumberOption.Optional<ulong>("--cpu-rt-period", "CPU realtime period (microseconds)", Unsigned);
        var cpuRtRuntime = NumberOption.Optional<long>("--cpu-rt-runtime", "CPU realtime runtime (microseconds)", Signed);
        var cpuShare = NumberOption.Optional<ulong>("--cpu-share", "CPU shares (relative weight)", Unsigned, "--cpu-shares");
        var cpusetCpus = new Option<string?>("--cpuset-cpus") { Description = "CPUs to use (0-3, 0,1)" };
        var cpusetMems = new Option<string?>("--cpuset-mems") { Description = "memory nodes to use (0-3, 0,1)" };
        var memory = new Option<string?>("--memory") { Description = "memory limit (bytes, or with a unit: 512m; -1 for unlimited)" };
        var memoryReservation = new Option<string?>("--memory-reservation") { Description = "memory reservation (soft limit)" };
        var memorySwap = new Option<string?>("--memory-swap") { Description = "memory plus swap limit (-1 for unlimited)" };
        var kernelMemory = new Option<string?>("--kernel-memory") { Description = "deprecated: ignored with a warning, as by runc" };
        var kernelMemoryTcp = new Option<string?>("--kernel-memory-tcp") { Description = "deprecated: ignored with a warning, as by runc" };
        var pidsLimit = NumberOption.Optional<long>("--pids-limit", "maximum number of processes (-1 for unlimited)", "an integer (-1 for unlimited)");
        var c = new Command("update", "update the resource limits of a container");
        c.Arguments.Add(id);
        foreach (var o in (Option[])[resources, blkioWeight, cpuPeriod, cpuQuota, cpuBurst, cpuRtPeriod, cpuRtRuntime, cpuShare,
                     cpusetCpus, cpusetMems, memory, memoryReservation, memorySwap, kernelMemory, kernelMemoryTcp, pidsLimit])
            c.Options.Add(o);
        c.SetAction(p => g.Run(p, (store, log) =>
        {
            LinuxResources r;
            if (p.GetValue(resources) is { } source)
                r = ReadJson(source);
            else
            {
                long? Bytes(Option<string?> o) => p.GetValue(o) is { } v ? ByteSize.Parse(v, o.Name) : null;
                r = new LinuxResources
                {
                    Memory = new LinuxMemory
                    {
                        Limit = Bytes(memory), Reservation = Bytes(memoryReservation), Swap = Bytes(memorySwap),
                        Kernel = Bytes(kernelMemory), KernelTCP = Bytes(kernelMemoryTcp), // ignored with a warning
                    },
                    Cpu = new LinuxCpu
                    {
                        Shares = p.GetValue(cpuShare), Quota = p.GetValue(cpuQuota), Period = p.GetValue(cpuPeriod), Burst = p.GetValue(cpuBurst),
                        RealtimePeriod = p.GetValue(cpuRtPeriod), RealtimeRuntime = p.GetValue(cpuRtRuntime),
                        Cpus = p.GetValue(cpusetCpus), Mems = p.GetValue(cpusetMems),
                    },
                    Pids = p.GetValue(pidsLimit) is { } pids ? new LinuxPids { Limit = pids } : null,
                    BlockIO = p.GetValue(blkioWeight) is { } weight ? new LinuxBlockIo { Weight = weight } : null,
                };
            }
            using var container = new ContainerFactory(store, log.Warn).Load(p.GetValue(id)!);
            container.Update(r, log.Warn);
            return 0;
        }));
        return c;
    }

    static LinuxResources ReadJson(string source)
    {
        string where = source == "-" ? "stdin" : source;
        string text = source == "-" ? Console.In.ReadToEnd() : SpecLoader.ReadText(source, $"--resources {where}");
        try
        {
            return JsonSerializer.Deserialize(text, OciJsonContext.Default.LinuxResources)
                ?? throw new ContainerException($"--resources {where}: null is not a LinuxResources object");
        }
        catch (JsonException e)
        {
            throw new ContainerException($"--resources {where}: not LinuxResources JSON: {SpecLoader.DescribeJsonError(e)}");
        }
    }
}
