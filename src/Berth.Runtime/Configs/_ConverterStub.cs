// Temporary until the oci branch lands.
using Berth.Oci;
namespace Berth.Runtime.Configs;
public static class ConfigConverter
{
    public static ContainerConfig Convert(Spec spec, string bundleDir) => throw new NotImplementedException($"{spec}{bundleDir}");
}
