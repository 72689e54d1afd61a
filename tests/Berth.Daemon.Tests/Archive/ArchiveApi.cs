using System.Formats.Tar;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Berth.Api;

namespace Berth.Daemon.Tests.Archive;

/// <summary>The archive endpoints over a daemon's unix socket, and tars made in memory, for the tests of docker cp.</summary>
public sealed class ArchiveApi(string socket) : IDisposable
{
    readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    })
    { BaseAddress = new Uri("http://berth/v1.41/"), Timeout = TimeSpan.FromSeconds(120) };

    public sealed record Answer(int Status, ContainerPathStat? Stat, byte[] Body)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Body);
        public override string ToString() => $"{Status} {Text}";
    }

    public Answer Head(string container, string path) => Send(HttpMethod.Head, container, path, null);
    public Answer Get(string container, string path) => Send(HttpMethod.Get, container, path, null);

    public Answer Put(string container, string path, byte[] tar, string extra = "") =>
        Send(HttpMethod.Put, container, path, tar, extra);

    Answer Send(HttpMethod method, string container, string path, byte[]? body, string extra = "")
    {
        using var request = new HttpRequestMessage(method, $"containers/{container}/archive?path={Uri.EscapeDataString(path)}{extra}");
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        }
        using var response = _http.Send(request);
        var stat = response.Headers.TryGetValues(ContainerPathStat.HeaderName, out var values) ? ContainerPathStat.FromHeader(values.First()) : null;
        using var stream = response.Content.ReadAsStream();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return new Answer((int)response.StatusCode, stat, copy.ToArray());
    }

    /// <summary>The entries of a tar answer: name → (type, link name, content).</summary>
    public static Dictionary<string, (TarEntryType Type, string Link, string Content)> Entries(byte[] tar)
    {
        var result = new Dictionary<string, (TarEntryType, string, string)>();
        using var reader = new TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry() is { } e)
        {
            string content = "";
            if (e.DataStream is { } data) content = new StreamReader(data).ReadToEnd();
            result[e.Name] = (e.EntryType, e.LinkName, content);
        }
        return result;
    }

    /// <summary>A tar of the given entries: (name, content) files, or (name, "-> target") symlinks, or (name, "=> target") hardlinks, or (name/, "") directories.</summary>
    public static byte[] Tar(params (string Name, string Content)[] entries)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                PaxTarEntry entry;
                if (content.StartsWith("-> ", StringComparison.Ordinal)) entry = new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = content[3..] };
                else if (content.StartsWith("=> ", StringComparison.Ordinal)) entry = new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = content[3..] };
                else if (name.EndsWith('/')) entry = new PaxTarEntry(TarEntryType.Directory, name);
                else entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };
                entry.Mode = name.EndsWith('/') ? (UnixFileMode)0x1ed : (UnixFileMode)0x1a4;
                entry.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_000_000_000);
                writer.WriteEntry(entry);
            }
        }
        return buffer.ToArray();
    }

    public void Dispose() => _http.Dispose();
}
