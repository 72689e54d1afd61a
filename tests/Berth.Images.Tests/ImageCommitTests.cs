namespace Berth.Images.Tests;

/// <summary>
/// What load and import commit, and when: all of an archive's images or none, names checked as a tag checks them
/// (no digest references, no repository called "sha256"), and every blob an operation relies on kept from a
/// collection that runs in the middle of it.
/// </summary>
public class ImageCommitTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ContentStore _content;
    private readonly ImageStore _images;
    private readonly ImageArchive _archive;

    public ImageCommitTests()
    {
        _content = new ContentStore(Path.Combine(_dir.Path, "content"));
        _images = new ImageStore(Path.Combine(_dir.Path, "images"), _content);
        _archive = new ImageArchive(_images);
    }

    public void Dispose() => _dir.Dispose();

    private string[] BlobsOnDisk() => [.. _content.Enumerate().Select(d => d.ToString()).Order()];

    private string[] BlobsOfImages() => [.. _images.List().SelectMany(i => i.Blobs).Select(d => d.ToString()).Distinct().Order()];

    private Task<ImageRecord> Import(string content, string reference) =>
        _archive.ImportAsync(new MemoryStream(SaveArchiveBuilder.Tar(("file", content))), reference);

    /// <summary>The store's images as "id tag,tag" lines, and the blobs on disk, to compare before and after.</summary>
    private string Snapshot() =>
        string.Join("\n", _images.List().OrderBy(i => i.Id.ToString()).Select(i => $"{i.Id} {string.Join(",", i.RepoTags.Order())}"))
        + "\n" + string.Join("\n", BlobsOnDisk());

    [Fact]
    public async Task A_load_that_fails_on_a_later_image_records_nothing_and_leaves_no_blob()
    {
        var victim = await Import("victim", "victim:latest");
        var before = Snapshot();
        var archive = new SaveArchiveBuilder();
        archive.Image(["victim:latest"], [SaveArchiveBuilder.Tar(("file", "attacker"))]);
        var bad = SaveArchiveBuilder.Tar(("file", "second"));
        archive.Image(["other:1"], [bad], diffIds: [SaveArchiveBuilder.Sha256(SaveArchiveBuilder.Tar(("file", "not this")))]);

        await Assert.ThrowsAsync<DigestMismatchException>(() => _archive.LoadAsync(new MemoryStream(archive.Build())));

        Assert.Equal(victim.Id, _images.Resolve("victim:latest").Id);
        Assert.Equal(before, Snapshot());
        Assert.Equal(BlobsOfImages(), BlobsOnDisk());
    }

    [Fact]
    public async Task Tags_named_after_the_digest_algorithm_are_refused_in_tag_load_and_import()
    {
        var victim = await Import("victim", "victim:latest");
        await Import("attacker", "attacker:1");
        var shortId = "sha256:" + victim.Id.Hex[..8];
        var before = Snapshot();

        foreach (var target in new[] { shortId, "sha256", "docker.io/library/sha256:" + victim.Id.Hex[..8], "library/sha256:x" })
        {
            var e = Assert.Throws<ReferenceException>(() => _images.Tag("attacker:1", target));
            Assert.StartsWith("refusing to create an ambiguous tag using digest algorithm as name", e.Message);
        }
        var archive = new SaveArchiveBuilder();
        archive.Image([shortId], [SaveArchiveBuilder.Tar(("file", "loaded attacker"))]);
        var load = await Assert.ThrowsAsync<ReferenceException>(() => _archive.LoadAsync(new MemoryStream(archive.Build())));
        Assert.StartsWith("refusing to create an ambiguous tag using digest algorithm as name", load.Message);
        var import = await Assert.ThrowsAsync<ReferenceException>(() => Import("imported attacker", shortId));
        Assert.StartsWith("refusing to create an ambiguous tag using digest algorithm as name", import.Message);

        Assert.Equal(before, Snapshot());
        Assert.Equal(victim.Id, _images.Resolve(shortId).Id);
        // Another registry's or user's repository called sha256 is no id: dockerd allows it, and so does berth.
        _images.Tag("attacker:1", "localhost/sha256:" + victim.Id.Hex[..8]);
        Assert.Equal(victim.Id, _images.Resolve(shortId).Id);
    }

    [Theory]
    [InlineData("localhost:5000/a@sha256:48cea976d718c21762bd5276f2d6459fc6392cf83430ba309e156a9e87d7ccb3", "invalid tag \"localhost:5000/a@sha256:48cea976d718c21762bd5276f2d6459fc6392cf83430ba309e156a9e87d7ccb3\"")]
    [InlineData("localhost:5000/a:t@sha256:48cea976d718c21762bd5276f2d6459fc6392cf83430ba309e156a9e87d7ccb3", "refusing to create a tag with a digest reference")]
    [InlineData("plainname", "invalid tag \"plainname\"")]
    public async Task Load_refuses_RepoTags_that_are_not_a_name_with_a_tag(string repoTag, string message)
    {
        await Import("victim", "victim:latest");
        var before = Snapshot();
        var archive = new SaveArchiveBuilder();
        archive.Image([repoTag], [SaveArchiveBuilder.Tar(("file", "loaded"))]);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => _archive.LoadAsync(new MemoryStream(archive.Build())));
        Assert.True(e is ImageFormatException or ReferenceException, e.ToString());
        Assert.StartsWith(message, e.Message);
        Assert.Equal(before, Snapshot());
    }

    /// <summary>
    /// rmi --force and its collection run at the worst moment: right after a load found a blob already stored. The
    /// blob must have been pinned before that check, so the load succeeds and its image has every blob.
    /// </summary>
    [Theory]
    [InlineData("layer")]
    [InlineData("config")]
    [InlineData("manifest")]
    public async Task A_collection_right_after_a_load_found_a_blob_cannot_delete_it(string which)
    {
        var archive = new SaveArchiveBuilder();
        archive.Image(["victim:1"], [SaveArchiveBuilder.Tar(("file", "content"))]);
        var bytes = archive.Build();
        var first = Assert.Single(await _archive.LoadAsync(new MemoryStream(bytes)));
        var target = which switch
        {
            "layer" => first.Layers[0].Digest,
            "config" => first.Id,
            _ => first.Manifest.Digest,
        };
        var fired = 0;
        _content.BlobFound = digest =>
        {
            if (digest != target || Interlocked.Exchange(ref fired, 1) != 0) return;
            _images.Remove("victim:1", force: true);
            _images.Collect();
        };

        var again = Assert.Single(await _archive.LoadAsync(new MemoryStream(bytes)));

        Assert.Equal(1, fired);
        Assert.Equal(first.Id, _images.Resolve("victim:1").Id);
        Assert.All(again.Blobs, d => Assert.True(_content.Has(d), $"{d} ({which} run) is missing"));
    }
}
