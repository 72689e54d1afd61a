using System.Text.Json;

namespace Berth.Api;

// The network routes, as the docker CLI calls them at API 1.41.
public sealed partial class BerthClient
{
    public async Task<NetworkCreateResponse> CreateNetworkAsync(NetworkCreateRequest request, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Post, "/networks/create", Json(request, ApiJson.Context.NetworkCreateRequest), ct);
        return await ReadJsonAsync(response, ApiJson.Context.NetworkCreateResponse, ct);
    }

    /// <summary>GET /networks, each network as the daemon wrote it (ls formats fields a newer daemon adds, as EnableIPv4).</summary>
    public async Task<List<JsonElement>> ListNetworksAsync(ApiFilters? filters, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("filters", filters?.ToQueryValue());
        using var response = await SendVersionedAsync(HttpMethod.Get, "/networks" + query, null, ct);
        return await ReadJsonAsync(response, ApiJson.Context.ListJsonElement, ct);
    }

    /// <summary>GET /networks/{name}: the network as the daemon wrote it (for inspect's -f).</summary>
    public Task<JsonElement> InspectNetworkAsync(string name, CancellationToken ct = default) => GetRawJsonAsync($"/networks/{name}", ct);

    public async Task RemoveNetworkAsync(string name, CancellationToken ct = default)
    {
        using var response = await SendVersionedAsync(HttpMethod.Delete, $"/networks/{name}", null, ct);
    }

    public async Task<NetworksPruneReport> PruneNetworksAsync(ApiFilters? filters, CancellationToken ct = default)
    {
        var query = new QueryString();
        query.Add("filters", filters?.ToQueryValue());
        using var response = await SendVersionedAsync(HttpMethod.Post, "/networks/prune" + query, null, ct);
        return await ReadJsonAsync(response, ApiJson.Context.NetworksPruneReport, ct);
    }
}
