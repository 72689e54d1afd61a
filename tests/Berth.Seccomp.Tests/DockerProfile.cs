using System.Text.Json;
using Berth.Oci;

namespace Berth.Seccomp.Tests;

/// <summary>Docker's default profile, as dockerd 20.10 wrote it into a container's config.json on this machine.</summary>
internal static class DockerProfile
{
    public static LinuxSeccomp Load() =>
        JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Resources", "docker-default-seccomp.json")),
            OciJsonContext.Default.LinuxSeccomp)!;
}
