using System.Text.Json.Serialization;
using Berth.Runtime.Init;
using Berth.Runtime.State;

namespace Berth.Runtime;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InitRequest))]
[JsonSerializable(typeof(InitReport))]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;
