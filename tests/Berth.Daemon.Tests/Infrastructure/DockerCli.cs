namespace Berth.Daemon.Tests.Infrastructure;

/// <summary>The real docker CLI against a berthd, with a private config directory under the daemon's root.</summary>
public static class DockerCli
{
    public static ProcessResult Docker(DaemonInstance daemon, params string[] args)
    {
        Skip.If(Tools.Which("docker") is null, "the docker CLI is not installed (apt-get install docker.io)");
        return Tools.Run("docker", ["-H", daemon.Host, .. args],
            new Dictionary<string, string> { ["DOCKER_CONFIG"] = Path.Combine(daemon.Root, "docker-config") }, timeoutSeconds: 120);
    }

    /// <summary>The result, after asserting it exited 0 (the assertion shows both outputs).</summary>
    public static ProcessResult Ok(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    /// <summary>The result, after asserting it failed with a message containing <paramref name="message"/>.</summary>
    public static ProcessResult Fails(ProcessResult result, string message)
    {
        Assert.True(result.ExitCode != 0, "expected a failure:\n" + result);
        Assert.True((result.Stderr + result.Stdout).Contains(message, StringComparison.Ordinal), $"expected \"{message}\" in:\n{result}");
        return result;
    }
}
