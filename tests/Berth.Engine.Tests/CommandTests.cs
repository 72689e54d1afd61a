using Berth.Api;
using static Berth.Engine.Tests.TestEnvironment;

namespace Berth.Engine.Tests;

/// <summary>What Populate hands the exec driver beside the spec: the files, the shared /dev/shm, the stop settings.</summary>
public class CommandTests
{
    const string Id = "30bb22e1da16ee9f31ecd087b84618561b1ae3760e007deb29663a4781e54967";

    static Command Populated(Action<ContainerCreateRequest, HostConfig>? flags = null, ContainerConfig? image = null, EngineEnvironment? environment = null)
    {
        var request = CliRequest(flags);
        return Populate.Command(new ContainerRecord(Id, "cs-default", request, request.HostConfig!, "/rootfs"), image ?? BusyboxImage, BusyboxUsers, environment ?? Create());
    }

    [Fact]
    public void Writes_hostname_hosts_and_resolv_conf_into_the_containers_directory()
    {
        var files = Populated().Files.ToDictionary(f => f.Path, f => f.Content);
        var dir = $"<data-root>/containers/{Id}";
        Assert.Equal("30bb22e1da16\n", files[$"{dir}/hostname"]);
        // inside-default.txt: the container's /etc/hosts and /etc/resolv.conf under dockerd, byte for byte.
        Assert.Equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", files[$"{dir}/hosts"]);
        Assert.Equal("nameserver 10.255.255.53\n", files[$"{dir}/resolv.conf"]);
    }

    [Fact]
    public void Host_network_copies_the_hosts_files_and_a_joined_network_writes_none()
    {
        var files = Populated((_, h) => h.NetworkMode = "host").Files.ToDictionary(f => Path.GetFileName(f.Path), f => f.Content);
        Assert.Equal("vm\n", files["hostname"]);
        Assert.Equal("127.0.0.1 localhost\n127.0.0.1 vm\n", files["hosts"]);
        Assert.Empty(Populated((_, h) => h.NetworkMode = "container:cs-ipc-shareable").Files);
    }

    [Theory]
    [InlineData("nameserver 127.0.0.53\noptions edns0\nsearch example.org\n", "options edns0\nsearch example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n")]
    [InlineData("nameserver ::1\nnameserver 10.0.0.2\n", "nameserver 10.0.0.2\n")]
    [InlineData("", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")]
    public void Resolv_conf_drops_the_hosts_loopback_resolvers(string host, string container) =>
        Assert.Equal(container, SandboxFiles.ResolvConfFor(host));

    [Fact]
    public void A_user_network_joins_the_daemons_namespace_and_names_the_address_and_the_embedded_dns()
    {
        var request = CliRequest((c, h) => { h.NetworkMode = "tn1"; c.Hostname = "h2"; c.Domainname = "example.test"; });
        var record = new ContainerRecord(Id, "cs-net", request, request.HostConfig!, "/rootfs")
        {
            Network = new NetworkAttachment("/run/berth/netns/abc", System.Net.IPAddress.Parse("198.18.1.50")),
        };
        var command = Populate.Command(record, BusyboxImage, BusyboxUsers, Create());
        Assert.Equal("/run/berth/netns/abc", command.Spec.Linux!.Namespaces!.Single(n => n.Type == "network").Path);
        var files = command.Files.ToDictionary(f => Path.GetFileName(f.Path), f => f.Content);
        // As dockerd wrote them for `--network tn1 --ip 198.18.1.50 --hostname h2 --domainname example.test`.
        Assert.EndsWith("ff02::2\tip6-allrouters\n198.18.1.50\th2.example.test h2\n", files["hosts"]);
        Assert.Equal("nameserver 127.0.0.11\noptions ndots:0\n", files["resolv.conf"]);
        // Without the namespace the daemon should have made, there is no spec to write.
        var e = Assert.Throws<ContainerConfigException>(() => Populate.Command(record with { Network = null }, BusyboxImage, BusyboxUsers, Create()));
        Assert.Equal("the container is on network tn1 but no namespace of that network was made for it", e.Message);
    }

    [Theory]
    [InlineData("nameserver 10.255.255.53\n", "nameserver 127.0.0.11\noptions ndots:0\n")]
    [InlineData("search example.org\nnameserver 10.0.0.2\noptions edns0 ndots:3\n# a comment\n", "search example.org\nnameserver 127.0.0.11\noptions ndots:0 edns0\n")]
    public void The_embedded_dns_resolv_conf_keeps_the_hosts_search_and_options(string host, string container)
    {
        Assert.Equal(container, SandboxFiles.EmbeddedDnsResolvConf(host));
        Assert.Equal([System.Net.IPAddress.Parse(host.Contains("10.0.0.2") ? "10.0.0.2" : "10.255.255.53")], SandboxFiles.Nameservers(host + "nameserver 127.0.0.53\n"));
    }

    [Fact]
    public void Shareable_ipc_asks_for_the_shm_tmpfs_and_private_does_not()
    {
        var shareable = Populated((_, h) => { h.IpcMode = "shareable"; h.ShmSize = 1 << 20; });
        Assert.Equal(new SharedShm($"<data-root>/containers/{Id}/mounts/shm", 1 << 20), shareable.SharedShm);
        Assert.Null(Populated().SharedShm);
    }

    [Fact]
    public void Stop_signal_and_timeout_come_from_the_request_the_image_or_the_daemon()
    {
        var defaults = Populated();
        Assert.Equal(("SIGTERM", 10), (defaults.StopSignal, defaults.StopTimeout));
        var image = BusyboxImage;
        image.StopSignal = "SIGQUIT";
        image.StopTimeout = 30;
        var fromImage = Populated(image: image);
        Assert.Equal(("SIGQUIT", 30), (fromImage.StopSignal, fromImage.StopTimeout));
        var fromRequest = Populated((c, _) => { c.StopSignal = "USR1"; c.StopTimeout = 2; }, image);
        Assert.Equal(("USR1", 2), (fromRequest.StopSignal, fromRequest.StopTimeout));
        Assert.Equal(10, Signals.Parse(fromRequest.StopSignal));
    }

    [Fact]
    public void The_working_dir_is_created_unless_it_is_the_root()
    {
        Assert.Null(Populated().WorkingDir);
        Assert.Equal("/tmp/work", Populated((c, _) => c.WorkingDir = "/tmp//work/").WorkingDir);
        Assert.Equal("/tmp/work", Populated((c, _) => c.WorkingDir = "/tmp//work/").Spec.Process!.Cwd);
    }

    [Fact]
    public void A_terminal_gets_the_clients_size_and_the_default_network_is_loopback_only_without_a_bridge()
    {
        var spec = Populated((c, h) => { c.Tty = true; h.ConsoleSize = [40, 120]; h.NetworkMode = "default"; }).Spec;
        Assert.Equal((40u, 120u), (spec.Process!.ConsoleSize!.Height, spec.Process.ConsoleSize.Width));
        var network = Assert.Single(spec.Linux!.Namespaces!, n => n.Type == "network");
        Assert.Null(network.Path);
        Assert.Equal("0", spec.Linux.Sysctl!["net.ipv4.ip_unprivileged_port_start"]);

        var bridged = Create(daemon: new DaemonSettings { DataRoot = DataRoot, BridgeNone = false });
        Assert.StartsWith("NetworkMode \"bridge\" is not supported yet",
            Assert.Throws<ContainerConfigException>(() => Populated((_, h) => h.NetworkMode = "default", environment: bridged)).Message);
    }

    [Fact]
    public void Daemon_ulimits_apply_where_the_request_names_no_such_limit()
    {
        var daemon = new DaemonSettings
        {
            DataRoot = DataRoot,
            DefaultUlimits = [new Ulimit { Name = "nofile", Soft = 1024, Hard = 4096 }, new Ulimit { Name = "nproc", Soft = 500, Hard = 500 }],
        };
        var limits = Populated((_, h) => h.Ulimits = [new Ulimit { Name = "nofile", Soft = 10, Hard = 20 }], environment: Create(daemon: daemon)).Spec.Process!.Rlimits!;
        Assert.Equal(["RLIMIT_NOFILE:10:20", "RLIMIT_NPROC:500:500"], limits.Select(l => $"{l.Type}:{l.Soft}:{l.Hard}"));
    }

    [Fact]
    public void User_tmpfs_over_the_defaults_replaces_them()
    {
        var mounts = Populated((_, h) => h.Tmpfs = new() { ["/dev/shm"] = "size=1m", ["/etc/hosts"] = "" }).Spec.Mounts!;
        var shm = Assert.Single(mounts, m => m.Destination == "/dev/shm");
        Assert.Equal("tmpfs", shm.Source);
        Assert.Single(mounts, m => m.Destination == "/etc/hosts");
        Assert.DoesNotContain(mounts, m => m.Destination == "/etc/hosts" && m.Type == "bind");
    }
}
