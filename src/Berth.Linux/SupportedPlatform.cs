using System.Runtime.InteropServices;

namespace Berth.Linux;

/// <summary>
/// Berth runs on x86_64 Linux only: its syscall numbers, struct layouts (struct stat, the spawn stage's requests) and
/// seccomp tables are x86_64's. spawn.c refuses to build elsewhere; a binary that still ends up on another machine
/// says so at start instead of making wrong system calls.
/// </summary>
public static class SupportedPlatform
{
    /// <summary>Null on x86_64 Linux, else the sentence to print before exiting.</summary>
    public static string? Refusal(string program) =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
            ? null
            : $"{program} runs on x86_64 Linux only (its system call numbers and struct layouts are x86_64's); this is {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture}";
}
