using System.Text.Json.Serialization;

namespace Berth.Runtime.Cli;

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(StateOutput))]
[JsonSerializable(typeof(List<StateOutput>), TypeInfoPropertyName = "ListStateOutput")]
internal sealed partial class CliJsonContext : JsonSerializerContext;
