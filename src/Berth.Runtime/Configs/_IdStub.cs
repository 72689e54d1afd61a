// Temporary until the oci branch lands.
namespace Berth.Runtime { public static class ContainerId { public static void Validate(string id) { _ = id; } } }
namespace Berth.Oci { public static class SpecLoader { public static Spec Load(string bundle) => throw new NotImplementedException(bundle); } }
namespace Berth.Oci { public sealed class SpecException(string m) : Exception(m); }
namespace Berth.Oci { public static class DefaultSpec { public static Spec Create(bool r) => new() { OciVersion = r.ToString() }; public static string ToJson(Spec s) => s.OciVersion!; } }
