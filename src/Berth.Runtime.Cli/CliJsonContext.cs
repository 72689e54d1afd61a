using System.Text.Json.Serialization;

namespace Berth.Runtime.Cli;

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
