using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Berth.Network.Dns;

/// <summary>
/// Sends a query the server cannot answer to the upstream resolvers in order, as dockerd's forwardExtDNS does: an
/// upstream that does not answer within the timeout, answers SERVFAIL or REFUSED, or sends something that is not a
/// reply to the question is passed over for the next; the first other reply (NXDOMAIN included) is relayed as it came.
/// </summary>
sealed class DnsForwarder(IReadOnlyList<IPEndPoint> upstreams, TimeSpan timeout, Action<string> log)
{
    /// <summary>
    /// The first usable upstream reply with the client's id put back, or null when there are no upstreams or all
    /// failed. Each upstream is asked with a fresh random id from a fresh socket (a random source port), so a reply
    /// cannot be guessed from the client's id.
    /// </summary>
    public async Task<byte[]?> ForwardAsync(ReadOnlyMemory<byte> query, DnsMessage parsed, bool overTcp, CancellationToken cancellation)
    {
        var question = parsed.Questions[0];
        var name = DnsName.ToText(question.Name) ?? "(a name with unusual bytes)";
        foreach (var upstream in upstreams)
        {
            var id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
            var sent = query.ToArray();
            BinaryPrimitives.WriteUInt16BigEndian(sent, id);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(timeout);
            byte[]? reply;
            try
            {
                reply = overTcp
                    ? await ExchangeTcpAsync(upstream, sent, id, question, deadline.Token)
                    : await ExchangeUdpAsync(upstream, sent, id, question, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                log($"The upstream DNS server {upstream} did not answer {name} within {timeout.TotalSeconds:0.###} s.");
                continue;
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                log($"The upstream DNS server {upstream} could not be asked for {name}: {(e as SocketException)?.SocketErrorCode.ToString() ?? e.Message}.");
                continue;
            }
            if (reply is null)
            {
                log($"The upstream DNS server {upstream} sent something that is not a reply to {name}; trying the next.");
                continue;
            }
            var rcode = reply[3] & 0xF;
            if (rcode is DnsConstants.RcodeServFail or DnsConstants.RcodeRefused)
            {
                log($"The upstream DNS server {upstream} answered {name} with {(rcode == DnsConstants.RcodeServFail ? "SERVFAIL" : "REFUSED")}; trying the next.");
                continue;
            }
            BinaryPrimitives.WriteUInt16BigEndian(reply, parsed.Header.Id);
            return reply;
        }
        return null;
    }

    static async Task<byte[]?> ExchangeUdpAsync(IPEndPoint upstream, byte[] query, ushort id, DnsQuestion question, CancellationToken cancellation)
    {
        using var socket = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        // Connected: the kernel drops datagrams from any other address.
        await socket.ConnectAsync(upstream, cancellation);
        await socket.SendAsync(query, SocketFlags.None, cancellation);
        var buffer = new byte[ushort.MaxValue];
        while (true)
        {
            var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellation);
            // A stray or forged datagram is ignored and the wait goes on until the deadline.
            if (IsReplyTo(buffer.AsSpan(0, length), id, question))
                return buffer[..length];
        }
    }

    static async Task<byte[]?> ExchangeTcpAsync(IPEndPoint upstream, byte[] query, ushort id, DnsQuestion question, CancellationToken cancellation)
    {
        using var socket = new Socket(upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(upstream, cancellation);
        await DnsTcp.WriteAsync(socket, query, cancellation);
        var reply = await DnsTcp.ReadAsync(socket, cancellation);
        return reply is not null && IsReplyTo(reply, id, question) ? reply : null;
    }

    static bool IsReplyTo(ReadOnlySpan<byte> reply, ushort id, DnsQuestion question) =>
        DnsMessage.TryParse(reply, out var parsed, out _) && parsed!.Header.IsResponse && parsed.Header.Id == id
        && parsed.Questions.Count == 1 && parsed.Questions[0].SameAs(question);
}
