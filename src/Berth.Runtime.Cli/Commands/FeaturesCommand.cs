using System.CommandLine;
using System.Text.Json;
using Berth.Oci;

namespace Berth.Runtime.Cli.Commands;

internal static class FeaturesCommand
{
    public static Command Build(GlobalOptions g)
    {
        var c = new Command("features", "show the enabled features (runtime-spec features.md JSON)");
        c.SetAction(p => g.Run(p, (_, _) =>
        {
            Console.WriteLine(JsonSerializer.Serialize(RuntimeFeatures.Describe(), OciJsonContext.Default.Features));
            return 0;
        }));
        return c;
    }
}
