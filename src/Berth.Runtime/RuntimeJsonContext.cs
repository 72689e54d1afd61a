using System.Text.Json.Serialization;
using Berth.Runtime.State;

namespace Berth.Runtime;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;
