using System.Text.Json;
using CremaD.Audio;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.FeatureExtraction;
using CremaD.Storage;
using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>
/// Datasets uploaded packed (<see cref="DatasetPacks"/>) read as the same dataset as a loose upload, give the same
/// features, and an index from storage that lies is refused, not followed.
/// </summary>
public sealed class PackedDatasetTests : TempDirectoryTests
{
    private async Task<(LocalFolderBlobStore Blobs, string Local)> TwoUploadsAsync(int clipsPerPack, bool brokenClip = true)
    {
        var blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        var local = Temp.Sub("dataset");
        TestDatasets.WriteDemoSubset(local, train: 7, validation: 3, test: 3, brokenClip);
        File.WriteAllText(Path.Combine(local, "README.txt"), "not a clip");
        await BlobDataset.UploadAsync(blobs, local, "loose", clipsPerPack: 0);
        await BlobDataset.UploadAsync(blobs, local, "packed", clipsPerPack: clipsPerPack);
        return (blobs, local);
    }

    private static Task<BlobDatasetListing> ListAsync(IBlobStore blobs, string name) =>
        BlobDataset.ReadAsync(blobs, new DatasetRef(BlobLayout.DatasetPrefix(name)));

    [Fact]
    public async Task A_packed_upload_reads_as_the_same_dataset_as_a_loose_one_and_each_range_holds_its_file()
    {
        var (blobs, local) = await TwoUploadsAsync(clipsPerPack: 5);

        var loose = await ListAsync(blobs, "loose");
        var packed = await ListAsync(blobs, "packed");

        Assert.Equal(loose.Clips.Select(c => c.Entry), packed.Clips.Select(c => c.Entry));
        Assert.Equal(loose.Clips.Select(c => c.Key["datasets/loose/".Length..]), packed.Clips.Select(c => c.Key["datasets/packed/".Length..]));
        Assert.Equal(loose.Rejected.Count, packed.Rejected.Count);
        Assert.All(loose.Clips, c => Assert.Null(c.Packed));
        Assert.Equal(3, packed.Clips.Select(c => c.Packed!.Key).Distinct().Count()); // 14 clips, 5 a pack
        foreach (var clip in packed.Clips)
        {
            var range = clip.Packed!;
            var read = await blobs.TryReadRangeAsync(range.Key, range.Offset, range.Length);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(local, clip.Entry.RelativePath)), read!.Content.ToArray());
            Assert.Equal(range.Length, clip.Stamp.Size);
        }
        // Only the clips are packed: the CSV and the file that is no clip stay blobs of their own.
        Assert.True(await blobs.ExistsAsync("datasets/packed/labels.csv"));
        Assert.True(await blobs.ExistsAsync("datasets/packed/README.txt"));
        Assert.False(await blobs.ExistsAsync("datasets/packed/" + packed.Clips[0].Entry.RelativePath));
    }

    [Fact]
    public async Task A_new_upload_writes_new_packs_removes_the_old_ones_and_changes_the_fingerprint()
    {
        var (blobs, local) = await TwoUploadsAsync(clipsPerPack: 5);
        var before = await ListAsync(blobs, "packed");
        var oldPacks = before.Clips.Select(c => c.Packed!.Key).Distinct().ToList();
        await Task.Delay(1100); // a new last-modified second even on a store with one-second times

        await BlobDataset.UploadAsync(blobs, local, "packed", clipsPerPack: 100);
        var after = await ListAsync(blobs, "packed");

        Assert.Equal(before.Clips.Select(c => c.Entry), after.Clips.Select(c => c.Entry));
        Assert.Single(after.Clips.Select(c => c.Packed!.Key).Distinct());
        Assert.All(oldPacks, key => Assert.False(blobs.ExistsAsync(key).Result, key));
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
    }

    [Fact]
    public async Task A_shard_of_packed_clips_makes_the_same_features_as_the_same_shard_of_loose_clips()
    {
        var (blobs, _) = await TwoUploadsAsync(clipsPerPack: 4);
        var processor = new FeatureShardProcessor(blobs);

        async Task<(FeatureShardManifest Manifest, byte[] Features)> ExtractAsync(string name)
        {
            var listing = await ListAsync(blobs, name);
            var clips = listing.Clips.Select(c => new ShardClip(c.Key, c.Entry.Id, c.Entry.Label, c.Entry.Partition.ToContract(), c.Entry.Actor, c.Packed))
                .ToList();
            var command = new ExtractFeatureShard(Guid.NewGuid(), listing.Reference, listing.Fingerprint, FeatureRecipe.Version, 0, 1, clips,
                BlobLayout.ShardPrefix(BlobLayout.FeatureStorePrefix(listing.Fingerprint, FeatureRecipe.Version), 0, 1, RunConfig.MaxShardSize));
            Assert.Empty(command.FindProblems());
            var manifest = await processor.ProcessAsync(command);
            return (manifest, await blobs.ReadBytesAsync(manifest.FeaturesKey));
        }

        var loose = await ExtractAsync("loose");
        var packed = await ExtractAsync("packed");

        Assert.Equal(14, packed.Manifest.Clips.Count + packed.Manifest.RejectedClips.Count);
        Assert.Equal(loose.Features, packed.Features);
        Assert.Equal(Json(loose.Manifest.Clips.Select(c => c with { Key = c.Key["datasets/loose/".Length..] })),
            Json(packed.Manifest.Clips.Select(c => c with { Key = c.Key["datasets/packed/".Length..] })));
        Assert.Equal(Json(loose.Manifest.TrainStatistics), Json(packed.Manifest.TrainStatistics));
        var rejected = Assert.Single(packed.Manifest.RejectedClips);
        Assert.Equal("datasets/packed/train/1001_DFA_ANG_XX.wav", rejected.Key);
        Assert.Equal(loose.Manifest.RejectedClips.Single().Reason, rejected.Reason);
    }

    [Fact]
    public async Task A_pack_cut_short_after_planning_rejects_the_clips_it_lost_and_extracts_the_rest()
    {
        var (blobs, _) = await TwoUploadsAsync(clipsPerPack: 100, brokenClip: false);
        var listing = await ListAsync(blobs, "packed");
        var pack = listing.Clips[0].Packed!.Key;
        var whole = await blobs.ReadBytesAsync(pack);
        var cut = listing.Clips[^3].Packed!.Offset + 10; // the last three clips lose their bytes
        await blobs.WriteBytesAsync(pack, whole.AsSpan(0, (int)cut).ToArray());
        var clips = listing.Clips.Select(c => new ShardClip(c.Key, c.Entry.Id, c.Entry.Label, c.Entry.Partition.ToContract(), c.Entry.Actor, c.Packed))
            .ToList();
        var command = new ExtractFeatureShard(Guid.NewGuid(), listing.Reference, listing.Fingerprint, FeatureRecipe.Version, 0, 1, clips,
            BlobLayout.ShardPrefix(BlobLayout.FeatureStorePrefix(listing.Fingerprint, FeatureRecipe.Version), 0, 1, RunConfig.MaxShardSize));

        var manifest = await new FeatureShardProcessor(blobs).ProcessAsync(command);

        Assert.Equal(clips.Count - 3, manifest.Clips.Count);
        Assert.Equal(clips.TakeLast(3).Select(c => c.Key), manifest.RejectedClips.Select(r => r.Key));
        Assert.All(manifest.RejectedClips, r => Assert.Contains($"audio pack '{pack}' ends before the clip's bytes", r.Reason));
    }

    public static TheoryData<string, string> LyingIndexes => new()
    {
        { """{"files":[{"path":"../../runs/x/model.json"}]}""", "has a bad path '../../runs/x/model.json'" },
        { """{"files":[{"path":"/etc/passwd"}]}""", "has a bad path '/etc/passwd'" },
        { """{"files":[{"offset":-1}]}""", "outside its pack" },
        { """{"files":[{"length":1000000000}]}""", "outside its pack" },
        { """{"files":[{"pack":7}]}""", "in pack 7, which it does not list" },
        { """{"packs":[{"length":5}]}""", "bytes, but it holds" },
        { """{"upload":".."}""", "names an invalid pack" },
        { """{"formatVersion":99}""", "has format version 99" },
    };

    [Theory]
    [MemberData(nameof(LyingIndexes))]
    public async Task An_index_that_lies_about_paths_packs_or_ranges_is_refused_naming_it(string change, string expected)
    {
        var (blobs, _) = await TwoUploadsAsync(clipsPerPack: 100, brokenClip: false);
        var indexKey = BlobLayout.DatasetPackIndexKey("datasets/packed/");
        var index = System.Text.Json.Nodes.JsonNode.Parse(await blobs.ReadBytesAsync(indexKey))!.AsObject();
        foreach (var (field, value) in System.Text.Json.Nodes.JsonNode.Parse(change)!.AsObject())
        {
            if (value is System.Text.Json.Nodes.JsonArray { Count: 1 } array && array[0] is System.Text.Json.Nodes.JsonObject patch)
            {
                // Patch the first element of the list.
                var first = index[field]!.AsArray()[0]!.AsObject();
                foreach (var (name, v) in patch) first[name] = v?.DeepClone();
            }
            else
            {
                index[field] = value?.DeepClone();
            }
        }
        await blobs.WriteTextAsync(indexKey, index.ToJsonString());

        var error = await Assert.ThrowsAsync<DatasetUnavailableException>(() => ListAsync(blobs, "packed"));

        Assert.Contains(indexKey, error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_shard_command_that_reaches_outside_its_dataset_is_refused()
    {
        ExtractFeatureShard Command(ShardClip clip) =>
            new(Guid.NewGuid(), new DatasetRef("datasets/d/"), "fp", FeatureRecipe.Version, 0, 1, [clip], "features/x/shards/0-of-1/");

        var inside = new ShardClip("datasets/d/a.wav", "a", 0, ClipPartition.Train, null, new BlobRange("datasets/d/_packs/u/pack-00000.bin", 0, 10));
        Assert.Empty(Command(inside).FindProblems());
        Assert.Contains(Command(inside with { Key = "runs/abc/model/best_model" }).FindProblems(), p => p.Contains("outside the dataset 'datasets/d/'"));
        Assert.Contains(Command(inside with { Packed = new BlobRange("datasets/other/_packs/u/pack-00000.bin", 0, 10) }).FindProblems(),
            p => p.Contains("outside the dataset 'datasets/d/'"));
        Assert.Contains(Command(inside with { Packed = new BlobRange("datasets/d/x.bin", 0, BlobRange.MaxLength + 1) }).FindProblems(),
            p => p.Contains("length must be in [1, "));
        Assert.Contains(Command(inside with { Packed = new BlobRange("datasets/d/../../runs/x", 0, 1) }).FindProblems(), p => p.Contains("'..'"));
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, ServiceJson.Options);
}
