namespace Berth.Api;

/// <summary>A <c>-H</c> value. Only <c>unix://PATH</c> for now: TCP needs TLS to be safe and is not built.</summary>
public sealed record DaemonHost(string SocketPath)
{
    public const string DefaultSocket = "/run/berth/berth.sock";
    public static readonly DaemonHost Default = new(DefaultSocket);

    public override string ToString() => "unix://" + SocketPath;

    /// <exception cref="FormatException">Not a unix:// address with an absolute path; names the value.</exception>
    public static DaemonHost Parse(string value)
    {
        if (value.StartsWith("unix://", StringComparison.Ordinal))
        {
            string path = value["unix://".Length..];
            if (path.Length == 0) return Default;
            if (!path.StartsWith('/')) throw new FormatException($"invalid host {value}: the socket path must be absolute");
            return new DaemonHost(path);
        }
        if (value.StartsWith("tcp://", StringComparison.Ordinal) || value.StartsWith("http://", StringComparison.Ordinal)
            || value.StartsWith("https://", StringComparison.Ordinal))
            throw new FormatException($"invalid host {value}: TCP is not supported yet, only unix://PATH");
        if (value.StartsWith('/')) throw new FormatException($"invalid host {value}: write it unix://{value}");
        throw new FormatException($"invalid host {value}: expected unix://PATH");
    }
}
