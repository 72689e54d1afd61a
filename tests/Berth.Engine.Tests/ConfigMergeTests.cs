using Berth.Api;

namespace Berth.Engine.Tests;

/// <summary>The request's Config merged with the image's, as dockerd merges them at create.</summary>
public class ConfigMergeTests
{
    static readonly ContainerConfig Image = new()
    {
        Env = ["PATH=/usr/bin:/bin", "LANG=C"],
        Entrypoint = ["/entry.sh"],
        Cmd = ["serve"],
        User = "app",
        WorkingDir = "/srv",
        StopSignal = "SIGQUIT",
        StopTimeout = 30,
        Labels = new() { ["from"] = "image", ["both"] = "image" },
        ExposedPorts = new() { ["80/tcp"] = new EmptyObject() },
    };

    [Fact]
    public void The_image_fills_what_the_request_leaves_out()
    {
        var merged = ConfigMerge.Merge(new ContainerConfig { Env = ["LANG=en_US.UTF-8", "A=1"], Labels = new() { ["both"] = "request" } }, Image);
        Assert.Equal(["LANG=en_US.UTF-8", "A=1", "PATH=/usr/bin:/bin"], merged.Env);
        Assert.Equal(["/entry.sh"], merged.Entrypoint);
        Assert.Equal(["serve"], merged.Cmd);
        Assert.Equal(("app", "/srv", "SIGQUIT", 30), (merged.User, merged.WorkingDir, merged.StopSignal, merged.StopTimeout));
        Assert.Equal("image", merged.Labels!["from"]);
        Assert.Equal("request", merged.Labels["both"]);
        Assert.Contains("80/tcp", merged.ExposedPorts!.Keys);
        var (path, args) = ConfigMerge.EntrypointAndArgs(merged);
        Assert.Equal("/entry.sh", path);
        Assert.Equal(["serve"], args);
    }

    [Fact]
    public void Volumes_are_the_union_and_an_empty_request_takes_the_images_null_included()
    {
        var volumes = new Dictionary<string, EmptyObject> { ["/vol"] = new() };
        Assert.Null(ConfigMerge.Merge(new ContainerConfig { Volumes = [] }, Image).Volumes);
        Assert.Equal(["/vol"], ConfigMerge.Merge(new ContainerConfig { Volumes = [] }, new ContainerConfig { Cmd = ["sh"], Volumes = volumes }).Volumes!.Keys);
        Assert.Equal(["/data", "/vol"], ConfigMerge.Merge(new ContainerConfig { Volumes = new() { ["/data"] = new() } },
            new ContainerConfig { Cmd = ["sh"], Volumes = volumes }).Volumes!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_command_keeps_the_images_entrypoint_and_an_entrypoint_drops_the_images_command()
    {
        Assert.Equal(["/entry.sh", "other"], All(ConfigMerge.Merge(new ContainerConfig { Cmd = ["other"] }, Image)));
        Assert.Equal(["/bin/sh"], All(ConfigMerge.Merge(new ContainerConfig { Entrypoint = ["/bin/sh"] }, Image)));
        // --entrypoint "" clears the image's entrypoint and keeps its command out.
        Assert.Equal(["echo", "hi"], All(ConfigMerge.Merge(new ContainerConfig { Entrypoint = [""], Cmd = ["echo", "hi"] }, Image)));
        Assert.Throws<ContainerConfigException>(() => ConfigMerge.Merge(new ContainerConfig { Entrypoint = [""] }, Image));
        // An empty, not absent, entrypoint keeps the image's out but lets its command in.
        Assert.Equal(["serve"], All(ConfigMerge.Merge(new ContainerConfig { Entrypoint = [] }, Image)));
        Assert.Equal("No command specified", Assert.Throws<ContainerConfigException>(() => ConfigMerge.Merge(new ContainerConfig(), null)).Message);
    }

    static List<string> All(ContainerConfig c) => [.. c.Entrypoint ?? [], .. c.Cmd ?? []];

    [Fact]
    public void Environment_replaces_in_place_appends_and_unsets()
    {
        Assert.Equal(["PATH=/x", "HOSTNAME=h", "A=1"],
            ConfigMerge.ReplaceOrAppendEnv(["PATH=/bin", "HOSTNAME=h", "B=2"], ["A=1", "PATH=/x", "B"]));
        // dockerd keeps both copies of a name the overrides give twice (the first wins for getenv).
        Assert.Equal(["A=1", "A=2"], ConfigMerge.ReplaceOrAppendEnv([], ["A=1", "A=2"]));
    }

    [Fact]
    public void The_request_is_not_changed()
    {
        var request = new ContainerConfig { Cmd = ["x"], Env = ["A=1"] };
        ConfigMerge.Merge(request, Image);
        Assert.Equal(["A=1"], request.Env);
        Assert.Null(request.Entrypoint);
    }
}
