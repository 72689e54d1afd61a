using System.Text.Json;
using Berth.Daemon.Tests.Infrastructure;
using Berth.Images.Tests;
using static Berth.Daemon.Tests.Infrastructure.DockerCli;

namespace Berth.Daemon.Tests;

/// <summary>
/// The image store against hostile or broken input, with the real docker CLI: a load or import that fails changes
/// nothing (its tag stays where it was), names that would shadow an image id are refused, and so are digest
/// references where a tag is expected. After each, the listing and the data root agree (<see cref="ImageDataRoot"/>).
/// </summary>
public class ImageStoreIntegrityTests
{
    const string RootReason = "berthd tests run as root (integration section of scripts/test.sh)";
    const string Ambiguous = "refusing to create an ambiguous tag using digest algorithm as name";

    static string Write(DaemonInstance daemon, string name, byte[] data)
    {
        string path = Path.Combine(daemon.Root, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    static string Import(DaemonInstance daemon, string content, string reference) =>
        Ok(Docker(daemon, "import", Write(daemon, reference.Replace('/', '_') + ".tar", SaveArchiveBuilder.Tar(("file", content))), reference)).Stdout.Trim();

    static string IdOf(DaemonInstance daemon, string name)
    {
        using var doc = JsonDocument.Parse(Ok(Docker(daemon, "image", "inspect", name)).Stdout);
        return doc.RootElement[0].GetProperty("Id").GetString()!;
    }

    static string Archive(DaemonInstance daemon, string name, string repoTag, byte[] layer)
    {
        var archive = new SaveArchiveBuilder();
        archive.Image([repoTag], [layer]);
        return Write(daemon, name, archive.Build());
    }

    /// <summary>A daemon (for the caller to dispose) holding the image victim:latest, and that image's id.</summary>
    static (DaemonInstance Daemon, string Victim) StartWithVictim()
    {
        Skip.IfNot(Tools.IsRoot, RootReason);
        var daemon = DaemonInstance.Start();
        try
        {
            return (daemon, Import(daemon, "victim\n", "victim:latest"));
        }
        catch
        {
            daemon.Dispose();
            throw;
        }
    }

    [SkippableFact]
    public void A_load_or_import_that_fails_leaves_the_tag_on_the_image_it_named()
    {
        var (daemon, victim) = StartWithVictim();
        using var _ = daemon;
        string before = ImageDataRoot.AssertConsistent(daemon);
        // A layer whose hardlink names a file it does not hold: the records are fine, the unpack fails.
        var bad = SaveArchiveBuilder.Tar(("file", "attacker\n"), ("link", "->missing"));

        Fails(Docker(daemon, "load", "-i", Archive(daemon, "bad-load.tar", "victim:latest", bad)), "hardlink to \"missing\"");
        Assert.Equal(victim, IdOf(daemon, "victim:latest"));
        Assert.Equal(before, ImageDataRoot.AssertConsistent(daemon));

        Fails(Docker(daemon, "import", Write(daemon, "bad-import.tar", bad), "victim:latest"), "hardlink to \"missing\"");
        Assert.Equal(victim, IdOf(daemon, "victim:latest"));
        Assert.Equal(before, ImageDataRoot.AssertConsistent(daemon));
    }

    [SkippableFact]
    public void A_repository_called_sha256_is_refused_so_short_ids_keep_naming_their_image()
    {
        var (daemon, victim) = StartWithVictim();
        using var _ = daemon;
        Import(daemon, "attacker\n", "attacker:1");
        string shortId = "sha256:" + victim[7..15];
        string before = ImageDataRoot.AssertConsistent(daemon);

        Fails(Docker(daemon, "tag", "attacker:1", shortId), Ambiguous);
        Fails(Docker(daemon, "load", "-i", Archive(daemon, "sha256-load.tar", shortId, SaveArchiveBuilder.Tar(("file", "loaded\n")))), Ambiguous);
        Fails(Docker(daemon, "import", Write(daemon, "sha256-import.tar", SaveArchiveBuilder.Tar(("file", "imported\n"))), shortId), Ambiguous);

        Assert.Equal(before, ImageDataRoot.AssertConsistent(daemon));
        var inspect = Tools.Curl(daemon.Socket, $"http://berthd/images/{shortId}/json");
        using (var doc = JsonDocument.Parse(inspect.Stdout))
            Assert.Equal(victim, doc.RootElement.GetProperty("Id").GetString());
        // The status code is dockerd's (400), checked against dockerd 20.10.
        var status = Tools.Curl(daemon.Socket, "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://berthd/images/attacker:1/tag?repo=sha256&tag=" + victim[7..15]);
        Assert.Equal("400", status.Stdout);
    }

    [SkippableFact]
    public void Load_refuses_digest_references_in_RepoTags()
    {
        var (daemon, victim) = StartWithVictim();
        using var _ = daemon;
        string before = ImageDataRoot.AssertConsistent(daemon);
        var layer = SaveArchiveBuilder.Tar(("file", "loaded\n"));

        string digestOnly = $"localhost:5000/a@{victim}";
        Fails(Docker(daemon, "load", "-i", Archive(daemon, "digest.tar", digestOnly, layer)), $"invalid tag \"{digestOnly}\"");
        Fails(Docker(daemon, "load", "-i", Archive(daemon, "tag-digest.tar", $"localhost:5000/a:t@{victim}", layer)),
            "refusing to create a tag with a digest reference");

        Assert.Equal(before, ImageDataRoot.AssertConsistent(daemon));
    }
}
