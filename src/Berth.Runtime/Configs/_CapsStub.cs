// Temporary until the oci branch lands.
namespace Berth.Runtime.Configs;
public static class Capabilities
{
    public static string NameOf(int cap) => $"cap {cap}";
}
