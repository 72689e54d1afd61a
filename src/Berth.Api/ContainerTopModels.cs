namespace Berth.Api;

/// <summary><c>GET /containers/{id}/top</c>: ps's column titles and, per process of the container, its columns.</summary>
public sealed class ContainerTopResponse
{
    public List<List<string>> Processes { get; set; } = [];
    public List<string> Titles { get; set; } = [];
}
