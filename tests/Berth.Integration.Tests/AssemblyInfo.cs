using System.Runtime.Versioning;

// The suite drives a Linux container runtime against the real kernel.
[assembly: SupportedOSPlatform("linux")]
