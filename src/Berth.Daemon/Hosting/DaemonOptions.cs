using Berth.Api;

namespace Berth.Daemon.Hosting;

/// <summary>berthd's settings, from its flags.</summary>
public sealed record DaemonOptions(string DataRoot, string ExecRoot, DaemonHost Host, LogLevel LogLevel)
{
    public const string DefaultDataRoot = "/var/lib/berth";
    public const string DefaultExecRoot = "/run/berth";

    public string LockFile => Path.Combine(DataRoot, "berthd.lock");
    public string PidFile => Path.Combine(ExecRoot, "berthd.pid");
    public string EngineIdFile => Path.Combine(DataRoot, "engine-id");

    /// <summary>The exec drivers (--add-runtime, --default-runtime); the in-process driver alone (and runc from PATH) when unset.</summary>
    public Containers.ExecDriverTable? Drivers { get; init; }

    /// <summary>--default-address-pool: where networks created without a subnet take theirs (dockerd's defaults when unset).</summary>
    public IReadOnlyList<Berth.Network.AddressPool> AddressPools { get; init; } = Berth.Network.AddressPool.Defaults;

    public Containers.ExecDriverTable DriversOrDefault() => Drivers ?? new Containers.ExecDriverTable(ExecRoot, [], null);
}
