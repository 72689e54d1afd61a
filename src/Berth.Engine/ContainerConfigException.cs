namespace Berth.Engine;

/// <summary>
/// A container's configuration that Berth refuses, or cannot honour yet. <see cref="Exception.Message"/> is the
/// sentence the API answers with (<c>{"message": ...}</c>), in dockerd's words where dockerd has some, and it names
/// the field at fault; <see cref="StatusCode"/> is the HTTP status that goes with it.
/// </summary>
public sealed class ContainerConfigException(string message, int statusCode = 400) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    /// <summary>A field Berth understands but does not implement yet: refused, never ignored.</summary>
    internal static ContainerConfigException NotSupported(string field, string what) =>
        new($"{field} is not supported yet: {what}");

    /// <summary>A container:&lt;name&gt; mode naming a container that does not exist (404, as dockerd answers).</summary>
    internal static ContainerConfigException NoSuchContainer(string reference) =>
        new($"No such container: {reference}", 404);
}
