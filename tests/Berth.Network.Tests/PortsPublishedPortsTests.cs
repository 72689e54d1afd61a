using System.Net;
using Berth.Network.Ports;

namespace Berth.Network.Tests;

public class PortsPublishedPortsTests
{
    static IReadOnlyDictionary<string, IReadOnlyList<(string HostIp, string HostPort)>> Bindings(params (string Key, string HostIp, string HostPort)[] entries) =>
        entries.GroupBy(e => e.Key).ToDictionary(g => g.Key, g => (IReadOnlyList<(string, string)>)[.. g.Select(e => (e.HostIp, e.HostPort))]);

    [Fact]
    public void ReadsWhatTheDockerCliSends()
    {
        var ports = PublishedPorts.Parse(Bindings(
            ("53/udp", "", ""),
            ("80/tcp", "", "8080"),
            ("80/tcp", "127.0.0.1", "8000-8010"),
            ("443", "::1", "0")));
        Assert.Equal(
            [
                new PublishedPort(PortProtocol.Tcp, 80, null, HostPortRange.Single(8080)),
                new PublishedPort(PortProtocol.Tcp, 80, IPAddress.Loopback, new HostPortRange(8000, 8010)),
                new PublishedPort(PortProtocol.Udp, 53, null, HostPortRange.Ephemeral),
                new PublishedPort(PortProtocol.Tcp, 443, IPAddress.IPv6Loopback, HostPortRange.Ephemeral),
            ],
            ports);
        Assert.Equal("80/tcp", ports[0].Key);
        Assert.Equal("8000-8010", ports[1].HostPorts.ToString());
    }

    [Fact]
    public void PublishAllGivesExposedPortsWithoutABindingAnEphemeralPort()
    {
        var ports = PublishedPorts.Parse(Bindings(("80/tcp", "", "8080")), ["80/tcp", "9000/udp"], publishAll: true);
        Assert.Equal(
            [
                new PublishedPort(PortProtocol.Tcp, 80, null, HostPortRange.Single(8080)),
                new PublishedPort(PortProtocol.Udp, 9000, null, HostPortRange.Ephemeral),
            ],
            ports);
        Assert.Single(PublishedPorts.Parse(Bindings(("80/tcp", "", "8080")), ["9000/udp"], publishAll: false));
    }

    [Theory]
    // dockerd 20.10's validateHostConfig sentences for the keys and host ports.
    [InlineData("80-81/tcp", "", "", "invalid port specification: \"80-81\"")]
    [InlineData("http/tcp", "", "", "invalid port specification: \"http\"")]
    [InlineData("70000/tcp", "", "", "invalid port specification: \"70000\"")]
    [InlineData("0/tcp", "", "", "invalid port specification: \"0\"")]
    [InlineData("80/tcp", "", "abc", "invalid port specification: \"abc\"")]
    [InlineData("80/tcp", "", "8010-8000", "invalid port specification: \"8010-8000\"")]
    [InlineData("80/tcp", "", "65536", "invalid port specification: \"65536\"")]
    [InlineData("80/tcp", "", "0-100", "invalid port specification: \"0-100\"")]
    // The CLI's sentences where dockerd 20.10 accepts and misbehaves (an unknown protocol, an unparsable HostIp).
    [InlineData("80/foo", "", "", "invalid proto: foo")]
    [InlineData("80/sctp", "", "", "invalid proto: sctp (berthd publishes tcp and udp ports only)")]
    [InlineData("80/tcp", "1.2.3", "", "invalid IP address: 1.2.3")]
    public void RefusesBadBindingsWithDockerdsSentences(string key, string hostIp, string hostPort, string message)
    {
        var error = Assert.Throws<PublishedPortException>(() => PublishedPorts.Parse(Bindings((key, hostIp, hostPort))));
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("80", "80/tcp||")]
    [InlineData("8080:80/udp", "80/udp||8080")]
    [InlineData("127.0.0.1:8000-8010:80", "80/tcp|127.0.0.1|8000-8010")]
    [InlineData("[::1]:8000-8001:80-81", "80/tcp|::1|8000 81/tcp|::1|8001")]
    [InlineData("9000-9001:80-81/TCP", "80/tcp||9000 81/tcp||9001")]
    public void ParsesTheCliSpec(string spec, string expected)
    {
        Assert.Equal(expected, string.Join(' ', PublishedPorts.ParseSpec(spec).Select(b => $"{b.Key}|{b.HostIp}|{b.HostPort}")));
    }

    [Theory]
    // The docker 20.10 CLI's sentences, seen by running it (docker create -p SPEC busybox).
    [InlineData("80/foo", "invalid proto: foo")]
    [InlineData("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001")]
    [InlineData("abc:80", "invalid hostPort: abc")]
    [InlineData("70000:80", "invalid hostPort: 70000")]
    [InlineData("1.2.3:80:80", "invalid IP address: 1.2.3")]
    [InlineData("80-70", "invalid containerPort: 80-70")]
    [InlineData("8080:80-70", "invalid containerPort: 80-70")]
    [InlineData("", "no port specified: <empty>")]
    public void RefusesBadCliSpecsWithTheCliSentences(string spec, string message)
    {
        Assert.Equal(message, Assert.Throws<PublishedPortException>(() => PublishedPorts.ParseSpec(spec)).Message);
    }
}
