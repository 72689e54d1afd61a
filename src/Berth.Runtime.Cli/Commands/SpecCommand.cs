using System.CommandLine;
using Berth.Oci;

namespace Berth.Runtime.Cli.Commands;

internal static class SpecCommand
{
    public static Command Build(GlobalOptions g)
    {
        var bundle = new Option<string>("--bundle", "-b") { Description = "path to the root of the bundle directory", DefaultValueFactory = _ => "." };
        var rootless = new Option<bool>("--rootless") { Description = "generate a configuration for a rootless container" };
        var c = new Command("spec", "create a new specification file (config.json)");
        c.Options.Add(bundle);
        c.Options.Add(rootless);
        c.SetAction(p => g.Run(p, (_, _) =>
        {
            string dir = p.GetValue(bundle)!;
            if (!Directory.Exists(dir)) throw new ContainerException($"bundle directory {dir} does not exist");
            string file = Path.Combine(dir, "config.json");
            if (File.Exists(file)) throw new ContainerException($"File {file} exists. Remove it first.");
            File.WriteAllText(file, DefaultSpec.ToJson(DefaultSpec.Create(p.GetValue(rootless))));
            return 0;
        }));
        return c;
    }
}
