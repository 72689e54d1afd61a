using System.Runtime.Versioning;

// The suite starts real container engines (podman, containerd, dockerd) on this Linux host.
[assembly: SupportedOSPlatform("linux")]
