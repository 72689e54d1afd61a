using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;
using Berth.Network.Netlink;

namespace Berth.Network;

/// <summary>
/// An rtnetlink (NETLINK_ROUTE) socket in the network namespace of the thread that opened it: it keeps acting on that
/// namespace whichever thread calls it later. Every change asks the kernel for an acknowledgement and turns a refusal
/// into a <see cref="LinuxException"/> naming the request and its links; every reply is awaited at most
/// <see cref="ReplyTimeout"/>. One request is in flight at a time (calls from several threads take turns).
/// </summary>
public sealed class RtNetlink : IDisposable
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The kernel's limit on a link name's length in bytes (IFNAMSIZ less the NUL).</summary>
    const int MaxLinkName = 15;
    const int ENODEV = 19, EMSGSIZE = 90;
    /// <summary>How many times a dump that a concurrent change interrupted (NLM_F_DUMP_INTR) is taken again.</summary>
    const int DumpAttempts = 10;

    readonly Fd _socket;
    readonly Lock _gate = new();
    // Dump replies come in datagrams of up to 32 KiB (the kernel sizes them by the largest read it has seen).
    readonly byte[] _reply = new byte[64 * 1024];
    uint _sequence;

    RtNetlink(Fd socket) => _socket = socket;

    /// <summary>Opens a socket in the calling thread's network namespace.</summary>
    public static unsafe RtNetlink Open()
    {
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_ROUTE);
        if (fd < 0) throw LinuxException.FromLastError("socket", "AF_NETLINK NETLINK_ROUTE");
        var socket = new Fd(fd);
        try
        {
            var timeout = new Libc.TimeVal { Seconds = (long)ReplyTimeout.TotalSeconds };
            if (Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, &timeout, (uint)sizeof(Libc.TimeVal)) < 0)
                throw LinuxException.FromLastError("setsockopt SO_RCVTIMEO", "netlink socket");
            var local = new Libc.SockAddrNl { Family = Libc.AF_NETLINK };
            if (Libc.bind(fd, &local, (uint)sizeof(Libc.SockAddrNl)) < 0)
                throw LinuxException.FromLastError("bind", "netlink socket");
            return new RtNetlink(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The index of the link <paramref name="name"/>, or -1 when there is no such link.</summary>
    public int LinkIndex(string name)
    {
        RequireLinkName(name);
        var request = new NetlinkRequest(Nl.RTM_GETLINK, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK);
        request.Put(new IfInfoMsg());
        request.Attribute(Nl.IFLA_IFNAME, name);
        int index = -1;
        try
        {
            Exchange(request, "RTM_GETLINK", Quote(name), (type, payload) =>
            {
                if (type == Nl.RTM_NEWLINK) index = MemoryMarshal.Read<IfInfoMsg>(payload).Index;
            });
        }
        catch (LinuxException e) when (e.Errno == ENODEV)
        {
            return -1;
        }
        return index;
    }

    /// <summary>Creates a bridge, down, with no ports; EEXIST when a link of that name exists.</summary>
    public void CreateBridge(string name)
    {
        RequireLinkName(name);
        var request = NewLink();
        request.Attribute(Nl.IFLA_IFNAME, name);
        var info = request.BeginNested(Nl.IFLA_LINKINFO);
        request.Attribute(Nl.IFLA_INFO_KIND, "bridge");
        request.EndNested(info);
        Exchange(request, "RTM_NEWLINK", $"bridge {Quote(name)}");
    }

    /// <summary>
    /// Creates a veth pair, both ends down: <paramref name="name"/> here and <paramref name="peerName"/> made directly in
    /// the network namespace of <paramref name="peerNetnsFd"/> (an open nsfs file), or here too when it is -1.
    /// </summary>
    public void CreateVethPair(string name, string peerName, int peerNetnsFd)
    {
        RequireLinkName(name);
        RequireLinkName(peerName);
        var request = NewLink();
        request.Attribute(Nl.IFLA_IFNAME, name);
        var info = request.BeginNested(Nl.IFLA_LINKINFO);
        request.Attribute(Nl.IFLA_INFO_KIND, "veth");
        var data = request.BeginNested(Nl.IFLA_INFO_DATA);
        // The peer is described as a link of its own: an ifinfomsg, then its attributes.
        var peer = request.BeginNested(Nl.VETH_INFO_PEER);
        request.Put(new IfInfoMsg());
        request.Attribute(Nl.IFLA_IFNAME, peerName);
        if (peerNetnsFd >= 0) request.Attribute(Nl.IFLA_NET_NS_FD, (uint)peerNetnsFd);
        request.EndNested(peer);
        request.EndNested(data);
        request.EndNested(info);
        Exchange(request, "RTM_NEWLINK", $"veth {Quote(name)} peer {Quote(peerName)}");
    }

    /// <summary>Makes <paramref name="link"/> a port of <paramref name="bridge"/>.</summary>
    public void SetMaster(string link, string bridge)
    {
        const string call = "RTM_SETLINK";
        var target = $"{Quote(link)} master {Quote(bridge)}";
        var request = SetLink(Resolve(link, call, target, twoLinks: true));
        request.Attribute(Nl.IFLA_MASTER, (uint)Resolve(bridge, call, target, twoLinks: true));
        Exchange(request, call, target);
    }

    /// <summary>Brings <paramref name="link"/> up (IFF_UP).</summary>
    public void SetUp(string link)
    {
        const string call = "RTM_SETLINK";
        var target = $"{Quote(link)} up";
        var index = Resolve(link, call, target);
        var request = new NetlinkRequest(Nl.RTM_SETLINK, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK);
        request.Put(new IfInfoMsg { Index = index, Flags = Nl.IFF_UP, Change = Nl.IFF_UP });
        Exchange(request, call, target);
    }

    /// <summary>Sets the Ethernet address of <paramref name="link"/> (6 bytes).</summary>
    public void SetMacAddress(string link, ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6) throw new ArgumentException($"A MAC address has 6 bytes, not {mac.Length} (for link {Quote(link)}).", nameof(mac));
        const string call = "RTM_SETLINK";
        var target = $"{Quote(link)} address {Convert.ToHexString(mac).ToLowerInvariant().Chunk(2).Select(pair => new string(pair)).Aggregate((a, b) => $"{a}:{b}")}";
        var request = SetLink(Resolve(link, call, target));
        request.Attribute(Nl.IFLA_ADDRESS, mac);
        Exchange(request, call, target);
    }

    /// <summary>Renames <paramref name="link"/>, which should be down: the kernel may refuse (EBUSY) while it is up
    /// (6.18 renamed an up veth without carrier). EEXIST when another link has the name.</summary>
    public void Rename(string link, string newName)
    {
        RequireLinkName(newName);
        const string call = "RTM_SETLINK";
        var target = $"{Quote(link)} name {Quote(newName)}";
        var request = SetLink(Resolve(link, call, target));
        request.Attribute(Nl.IFLA_IFNAME, newName);
        Exchange(request, call, target);
    }

    /// <summary>Adds <paramref name="address"/>/<paramref name="prefixLength"/> to <paramref name="link"/> (IPv4 with its
    /// subnet's broadcast address, as `ip addr add ... brd +`; or IPv6); EEXIST when the link has it already.</summary>
    public void AddAddress(string link, IPAddress address, int prefixLength)
    {
        var (family, bits) = Family(address);
        if (prefixLength < 0 || prefixLength > bits)
            throw new ArgumentOutOfRangeException(nameof(prefixLength), $"The prefix length of {address}/{prefixLength} is outside 0..{bits}.");
        const string call = "RTM_NEWADDR";
        var target = $"{address}/{prefixLength} on {Quote(link)}";
        var index = Resolve(link, call, target);
        var request = new NetlinkRequest(Nl.RTM_NEWADDR, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK | Nl.NLM_F_CREATE | Nl.NLM_F_EXCL);
        request.Put(new IfAddrMsg { Family = family, PrefixLength = (byte)prefixLength, Scope = Nl.RT_SCOPE_UNIVERSE, Index = index });
        var bytes = address.GetAddressBytes();
        request.Attribute(Nl.IFA_LOCAL, bytes);
        request.Attribute(Nl.IFA_ADDRESS, bytes);
        if (family == Libc.AF_INET && prefixLength < 31)
        {
            var broadcast = IPv4Subnet.ToUInt32(address) | (uint.MaxValue >> prefixLength);
            request.Attribute(Nl.IFA_BROADCAST, IPv4Subnet.FromUInt32(broadcast).GetAddressBytes());
        }
        Exchange(request, call, target);
    }

    /// <summary>Adds the default route via <paramref name="gateway"/> to the main table (IPv4, or IPv6); the gateway
    /// must be reachable on a link's subnet (ENETUNREACH otherwise), EEXIST when a default route exists.</summary>
    public void AddDefaultRoute(IPAddress gateway)
    {
        var (family, _) = Family(gateway);
        var request = new NetlinkRequest(Nl.RTM_NEWROUTE, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK | Nl.NLM_F_CREATE | Nl.NLM_F_EXCL);
        request.Put(new RtMsg
        {
            Family = family, Table = Nl.RT_TABLE_MAIN, Protocol = Nl.RTPROT_BOOT, Scope = Nl.RT_SCOPE_UNIVERSE, Type = Nl.RTN_UNICAST,
        });
        request.Attribute(Nl.RTA_GATEWAY, gateway.GetAddressBytes());
        Exchange(request, "RTM_NEWROUTE", $"default via {gateway}");
    }

    /// <summary>Deletes the link <paramref name="name"/> (a veth's peer goes with it); ENODEV when there is none.</summary>
    public void DeleteLink(string name)
    {
        const string call = "RTM_DELLINK";
        var index = Resolve(name, call, Quote(name));
        var request = new NetlinkRequest(Nl.RTM_DELLINK, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK);
        request.Put(new IfInfoMsg { Index = index });
        Exchange(request, call, Quote(name));
    }

    /// <summary>Every link of the namespace, by index.</summary>
    public IReadOnlyList<(int Index, string Name)> Links()
    {
        var links = new List<(int Index, string Name)>();
        Dump(Nl.RTM_GETLINK, new IfInfoMsg(), "links", links.Clear, (type, payload) =>
        {
            if (type != Nl.RTM_NEWLINK) return;
            var info = MemoryMarshal.Read<IfInfoMsg>(payload);
            if (NetlinkAttributes.TryFind(payload[Unsafe.SizeOf<IfInfoMsg>()..], Nl.IFLA_IFNAME, out var name))
                links.Add((info.Index, NetlinkAttributes.Text(name)));
        });
        links.Sort((a, b) => a.Index.CompareTo(b.Index));
        return links;
    }

    /// <summary>The kind of a link ("bridge", "veth"...; IFLA_INFO_KIND), "" for a device without one (a NIC, lo), null when there is no such link.</summary>
    public string? KindOf(string name)
    {
        string? kind = null;
        Dump(Nl.RTM_GETLINK, new IfInfoMsg(), "links", () => kind = null, (type, payload) =>
        {
            if (type != Nl.RTM_NEWLINK) return;
            var attributes = payload[Unsafe.SizeOf<IfInfoMsg>()..];
            if (!NetlinkAttributes.TryFind(attributes, Nl.IFLA_IFNAME, out var found) || NetlinkAttributes.Text(found) != name) return;
            kind = NetlinkAttributes.TryFind(attributes, Nl.IFLA_LINKINFO, out var info) && NetlinkAttributes.TryFind(info, Nl.IFLA_INFO_KIND, out var text)
                ? NetlinkAttributes.Text(text) : "";
        });
        return kind;
    }

    /// <summary>Every IPv4 and IPv6 address of the namespace with its link's name, in the kernel's order.</summary>
    public IReadOnlyList<(string Link, IPAddress Address, int PrefixLength)> Addresses()
    {
        var names = Links().ToDictionary(l => l.Index, l => l.Name);
        var addresses = new List<(string Link, IPAddress Address, int PrefixLength)>();
        Dump(Nl.RTM_GETADDR, new IfAddrMsg(), "addresses", addresses.Clear, (type, payload) =>
        {
            if (type != Nl.RTM_NEWADDR) return;
            var info = MemoryMarshal.Read<IfAddrMsg>(payload);
            if (info.Family is not (Libc.AF_INET or Libc.AF_INET6)) return;
            var attributes = payload[Unsafe.SizeOf<IfAddrMsg>()..];
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
            if (!NetlinkAttributes.TryFind(attributes, Nl.IFA_LOCAL, out var bytes)
                && !NetlinkAttributes.TryFind(attributes, Nl.IFA_ADDRESS, out bytes)) return;
            var link = names.TryGetValue(info.Index, out var name) ? name : $"#{info.Index}";
            addresses.Add((link, new IPAddress(bytes), info.PrefixLength));
        });
        return addresses;
    }

    public void Dispose() => _socket.Dispose();

    delegate void ReplyHandler(ushort type, ReadOnlySpan<byte> payload);

    static NetlinkRequest NewLink()
    {
        var request = new NetlinkRequest(Nl.RTM_NEWLINK, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK | Nl.NLM_F_CREATE | Nl.NLM_F_EXCL);
        request.Put(new IfInfoMsg());
        return request;
    }

    static NetlinkRequest SetLink(int index)
    {
        var request = new NetlinkRequest(Nl.RTM_SETLINK, Nl.NLM_F_REQUEST | Nl.NLM_F_ACK);
        request.Put(new IfInfoMsg { Index = index });
        return request;
    }

    /// <summary>The index of <paramref name="name"/>, or ENODEV in the words of the request that needed it (saying
    /// which link is missing when the request names two).</summary>
    int Resolve(string name, string call, string target, bool twoLinks = false)
    {
        var index = LinkIndex(name);
        if (index >= 0) return index;
        throw new LinuxException(call, ENODEV, twoLinks ? $"{target} (no link {Quote(name)})" : target);
    }

    /// <summary>Takes a dump, again when a change in the namespace interrupted it (NLM_F_DUMP_INTR).</summary>
    void Dump<THeader>(ushort type, THeader header, string what, Action restart, ReplyHandler onReply) where THeader : unmanaged
    {
        var call = type == Nl.RTM_GETLINK ? "RTM_GETLINK" : "RTM_GETADDR";
        for (int attempt = 1; ; attempt++)
        {
            var request = new NetlinkRequest(type, Nl.NLM_F_REQUEST | Nl.NLM_F_DUMP);
            request.Put(header);
            restart();
            if (!Exchange(request, call, $"dump of {what}", onReply, dump: true)) return;
            if (attempt == DumpAttempts)
                throw new LinuxException(call, Errno.EAGAIN, $"dump of {what} (changed during each of {DumpAttempts} attempts)");
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads until its acknowledgement (or, for a dump, NLMSG_DONE), handing the
    /// other replies to <paramref name="onReply"/>. Replies with another sequence number are left over from a request
    /// that timed out, and skipped. Returns whether a dump was interrupted by a change and must be taken again.
    /// </summary>
    unsafe bool Exchange(NetlinkRequest request, string call, string target, ReplyHandler? onReply = null, bool dump = false)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_socket.IsClosed, this);
            var sequence = ++_sequence;
            Send(request.Finish(sequence), call, target);
            var deadline = Stopwatch.GetTimestamp() + (long)(ReplyTimeout.TotalSeconds * Stopwatch.Frequency);
            bool interrupted = false;
            while (true)
            {
                var replies = _reply.AsSpan(0, Receive(call, target, deadline));
                while (replies.Length >= Unsafe.SizeOf<NlMsgHdr>())
                {
                    var header = MemoryMarshal.Read<NlMsgHdr>(replies);
                    if (header.Length < Unsafe.SizeOf<NlMsgHdr>() || header.Length > replies.Length) break;
                    var payload = replies[Unsafe.SizeOf<NlMsgHdr>()..(int)header.Length];
                    replies = replies[Math.Min(Nl.Align((int)header.Length), replies.Length)..];
                    if (header.Sequence != sequence) continue;
                    switch (header.Type)
                    {
                        case Nl.NLMSG_NOOP:
                            break;
                        case Nl.NLMSG_ERROR:
                            // A negative errno, or 0 for the acknowledgement itself.
                            var error = MemoryMarshal.Read<int>(payload);
                            if (error != 0) throw new LinuxException(call, -error, target);
                            if (!dump) return false;
                            break;
                        case Nl.NLMSG_DONE:
                            var status = payload.Length >= sizeof(int) ? MemoryMarshal.Read<int>(payload) : 0;
                            if (status < 0) throw new LinuxException(call, -status, target);
                            return interrupted;
                        default:
                            interrupted |= (header.Flags & Nl.NLM_F_DUMP_INTR) != 0;
                            onReply?.Invoke(header.Type, payload);
                            break;
                    }
                }
            }
        }
    }

    unsafe void Send(ReadOnlySpan<byte> message, string call, string target)
    {
        var kernel = new Libc.SockAddrNl { Family = Libc.AF_NETLINK };
        fixed (byte* bytes = message)
        {
            while (true)
            {
                var sent = Libc.sendto(_socket.Value, bytes, message.Length, 0, &kernel, (uint)sizeof(Libc.SockAddrNl));
                if (sent >= 0) return;
                if (Marshal.GetLastPInvokeError() != Errno.EINTR) throw LinuxException.FromLastError(call, target);
            }
        }
    }

    /// <summary>Reads one datagram of replies; SO_RCVTIMEO bounds each read and the deadline the whole wait, which
    /// signals (EINTR) would otherwise extend.</summary>
    unsafe int Receive(string call, string target, long deadline)
    {
        fixed (byte* buffer = _reply)
        {
            while (true)
            {
                var received = Libc.recv(_socket.Value, buffer, _reply.Length, Libc.MSG_TRUNC);
                if (received > _reply.Length) throw new LinuxException(call, EMSGSIZE, $"{target} (a reply of {received} bytes)");
                if (received >= 0) return (int)received;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR && Stopwatch.GetTimestamp() < deadline) continue;
                if (errno is Errno.EAGAIN or Errno.EINTR)
                    throw new LinuxException($"waiting {ReplyTimeout.TotalSeconds:0} s for the kernel's answer to {call}", Errno.EAGAIN, target);
                throw new LinuxException(call, errno, target);
            }
        }
    }

    static (byte Family, int Bits) Family(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => (Libc.AF_INET, 32),
        AddressFamily.InterNetworkV6 => (Libc.AF_INET6, 128),
        _ => throw new ArgumentException($"{address} is neither an IPv4 nor an IPv6 address.", nameof(address)),
    };

    static void RequireLinkName(string name)
    {
        var length = Encoding.UTF8.GetByteCount(name);
        if (length == 0 || length > MaxLinkName || name.Contains('/') || name.Contains(':') || name.Any(char.IsWhiteSpace) || name is "." or "..")
            throw new ArgumentException(
                $"The link name {Quote(name)} is not valid: a link name has 1 to {MaxLinkName} bytes, no '/', ':' or white space, and is not '.' or '..'.",
                nameof(name));
    }

    static string Quote(string name) => $"\"{name}\"";
}
