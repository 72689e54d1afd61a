namespace Berth.Daemon.Api;

/// <summary>
/// An error the API answers with its status code and <c>{"message"}</c>. Backends throw these for the
/// outcomes a client acts on (404 drives docker's implicit pull and inspect probing; 409 is "in use").
/// </summary>
public class ApiException(int statusCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int StatusCode { get; } = statusCode;

    public static ApiException BadRequest(string message) => new(400, message);
    public static ApiException NotFound(string message) => new(404, message);
    public static ApiException Conflict(string message) => new(409, message);
    public static ApiException NotImplemented(string message) => new(501, message);

    /// <summary>dockerd's wording for an image that is not in the store.</summary>
    public static ApiException NoSuchImage(string name) => new(404, $"No such image: {name}");
}
