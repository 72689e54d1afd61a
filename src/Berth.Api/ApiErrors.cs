namespace Berth.Api;

/// <summary>The daemon answered with an error status; <see cref="Exception.Message"/> is its <c>message</c>.</summary>
public sealed class DaemonErrorException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public bool IsNotFound => StatusCode == 404;
}

/// <summary>The daemon's socket could not be reached.</summary>
public sealed class DaemonUnreachableException(string host, Exception inner)
    : Exception($"Cannot connect to the Berth daemon at {host}. Is the berth daemon running?", inner)
{
    public string Host { get; } = host;
}

/// <summary>A streamed answer carried an error line: the operation failed after it had started.</summary>
public sealed class StreamErrorException(string message) : Exception(message);
