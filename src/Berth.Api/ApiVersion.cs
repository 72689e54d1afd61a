using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Berth.Api;

/// <summary>An Engine API version (<c>1.41</c>): compared numerically, so 1.9 &lt; 1.41.</summary>
public readonly record struct ApiVersion(int Major, int Minor) : IComparable<ApiVersion>
{
    /// <summary>What berthd serves and berth speaks: the API of dockerd 20.10, whose traffic the captures record.</summary>
    public static readonly ApiVersion Current = new(1, 41);

    /// <summary>
    /// The newest version berthd serves a request at, above the one it advertises: Testcontainers 4 (Docker.DotNet.Enhanced)
    /// sends every request at /v1.44 without negotiating, as current dockerd accepts. The shapes 1.42 to 1.44 add are
    /// optional fields (clients tolerate their absence) and the hijack Content-Type berthd sends at every version.
    /// </summary>
    public static readonly ApiVersion MaximumServed = new(1, 44);

    /// <summary>The oldest version berthd accepts (current dockerd's minimum).</summary>
    public static readonly ApiVersion Minimum = new(1, 24);

    /// <summary>What a client assumes when the daemon's ping carries no Api-Version header (docker's fallback).</summary>
    public static readonly ApiVersion PingFallback = new(1, 24);

    public static bool TryParse(string? text, [NotNullWhen(true)] out ApiVersion? version)
    {
        version = null;
        if (string.IsNullOrEmpty(text)) return false;
        int dot = text.IndexOf('.');
        if (dot <= 0 || dot == text.Length - 1) return false;
        if (!TryDigits(text.AsSpan(0, dot), out int major) || !TryDigits(text.AsSpan(dot + 1), out int minor)) return false;
        version = new ApiVersion(major, minor);
        return true;
    }

    static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (char c in s)
            if (c is < '0' or > '9') return false;
        return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The version a client uses with a daemon: docker only ever negotiates down, never up.</summary>
    public static ApiVersion Negotiate(ApiVersion client, ApiVersion? server) =>
        server is { } s ? (s < client ? s : client) : (PingFallback < client ? PingFallback : client);

    public int CompareTo(ApiVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    public static bool operator <(ApiVersion a, ApiVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(ApiVersion a, ApiVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(ApiVersion a, ApiVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ApiVersion a, ApiVersion b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{Major}.{Minor}";
}
