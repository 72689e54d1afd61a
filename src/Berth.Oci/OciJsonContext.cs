using System.Text.Json.Serialization;

namespace Berth.Oci;

/// <summary>Source-generated JSON for every OCI type: no reflection, so the runtime stays trim- and AOT-clean.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(Spec))]
[JsonSerializable(typeof(State))]
[JsonSerializable(typeof(Process))]
[JsonSerializable(typeof(LinuxResources))]
[JsonSerializable(typeof(List<State>))]
[JsonSerializable(typeof(Features))]
[JsonSerializable(typeof(ContainerProcessState))]
public sealed partial class OciJsonContext : JsonSerializerContext;
