using CremaD.Audio;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.FeatureExtraction;
using CremaD.Storage;
using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>
/// Two plans of one dataset (13 clips in 3 shards of 5, or in 3 shards of 6) share a feature store without touching each
/// other's shards; the store is completed once, and a shard that does not belong to the plan is refused.
/// </summary>
public sealed class FeatureStoreCompletionTests : TempDirectoryTests
{
    private async Task<(LocalFolderBlobStore Blobs, BlobDatasetListing Listing, string Store)> PlannedDatasetAsync()
    {
        var blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        var local = Temp.Sub("dataset");
        TestDatasets.WriteDemoSubset(local, train: 7, validation: 3, test: 3);
        await BlobDataset.UploadAsync(blobs, local, "d", clipsPerPack: 0);
        var listing = await BlobDataset.ReadAsync(blobs, new DatasetRef(BlobLayout.DatasetPrefix("d")));
        var store = BlobLayout.FeatureStorePrefix(listing.Fingerprint, FeatureRecipe.Version);
        await blobs.WriteJsonAsync(BlobLayout.FeatureStoreDatasetKey(store), BlobDatasetDescription.Of(listing, blobs.Location), ServiceJson.Options);
        return (blobs, listing, store);
    }

    /// <summary>Extracts every shard of the plan with <paramref name="shardSize"/> clips a shard, as the feature service does.</summary>
    private static async Task<int> ExtractPlanAsync(IBlobStore blobs, BlobDatasetListing listing, string store, int shardSize)
    {
        var count = BlobLayout.ShardCount(listing.Clips.Count, shardSize);
        var processor = new FeatureShardProcessor(blobs);
        for (var shard = 0; shard < count; shard++)
        {
            var clips = listing.Clips.Skip(shard * shardSize).Take(shardSize)
                .Select(c => new ShardClip(c.Key, c.Entry.Id, c.Entry.Label, c.Entry.Partition.ToContract(), c.Entry.Actor, c.Packed)).ToList();
            await processor.ProcessAsync(new ExtractFeatureShard(Guid.NewGuid(), listing.Reference, listing.Fingerprint, FeatureRecipe.Version,
                shard, count, clips, BlobLayout.ShardPrefix(store, shard, count, shardSize)));
        }
        return count;
    }

    [Fact]
    public async Task Two_plans_with_as_many_shards_keep_their_own_shards_and_the_store_is_completed_once()
    {
        var (blobs, listing, store) = await PlannedDatasetAsync();
        Assert.Equal(3, await ExtractPlanAsync(blobs, listing, store, 5));
        Assert.Equal(3, await ExtractPlanAsync(blobs, listing, store, 6));

        var first = await BlobFeatureStore.CompleteAsync(blobs, store, 3, 5);
        var index = await blobs.GetInfoAsync(BlobLayout.FileKey(store, FeatureStoreFiles.Index));
        var second = await BlobFeatureStore.CompleteAsync(blobs, store, 3, 6);

        // The second plan finds the store complete and leaves it as it is: trainers may be staging it.
        Assert.Equal(index, await blobs.GetInfoAsync(BlobLayout.FileKey(store, FeatureStoreFiles.Index)));
        Assert.Equal(first.Metadata.DatasetFingerprint, second.Metadata.DatasetFingerprint);
        Assert.Equal(first.TrainFrames, second.TrainFrames);
        var staged = await BlobFeatureStore.StageAsync(blobs, store, Path.Combine(Temp.Path, "staged"));
        Assert.Equal(listing.Clips.Select(c => c.Entry.Id).Order(), staged.Clips.Select(c => c.Id).Order());
    }

    [Fact]
    public async Task Completions_at_the_same_time_complete_the_store_once()
    {
        var (blobs, listing, store) = await PlannedDatasetAsync();
        await ExtractPlanAsync(blobs, listing, store, 5);
        await ExtractPlanAsync(blobs, listing, store, 6);

        var completions = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => BlobFeatureStore.CompleteAsync(blobs, store, 3, i % 2 == 0 ? 5 : 6)));

        Assert.Single(completions.Select(c => c.Metadata.LastRun.StartedUtc).Distinct());
        var staged = await BlobFeatureStore.StageAsync(blobs, store, Path.Combine(Temp.Path, "staged"));
        Assert.Equal(13, staged.Clips.Count);
    }

    [Fact]
    public async Task A_shard_of_another_plan_under_this_plans_key_is_refused_naming_it()
    {
        var (blobs, listing, store) = await PlannedDatasetAsync();
        await ExtractPlanAsync(blobs, listing, store, 5);
        await ExtractPlanAsync(blobs, listing, store, 6);
        // Plan 6's first shard (6 clips) where plan 5's first shard belongs, as a store written by an older version could hold.
        var key = BlobLayout.ShardManifestKey(BlobLayout.ShardPrefix(store, 0, 3, 5));
        await blobs.WriteBytesAsync(key, await blobs.ReadBytesAsync(BlobLayout.ShardManifestKey(BlobLayout.ShardPrefix(store, 0, 3, 6))));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => BlobFeatureStore.CompleteAsync(blobs, store, 3, 5));

        Assert.Contains($"'{key}'", error.Message);
        Assert.Contains("is not shard 0 of this plan (3 shards of 5 clips", error.Message);
        Assert.Contains("6 clips", error.Message);
        Assert.False(await BlobFeatureStore.IsCompleteAsync(blobs, store));
    }

    [Theory]
    [InlineData("../../escaped.f32", null)]
    [InlineData("features/part-000000.f32", "runs/0123456789abcdef0123456789abcdef/model/best_model")]
    [InlineData("features/../../part-000000.f32", null)]
    public async Task Staging_refuses_a_parts_file_that_points_outside_the_store(string name, string? key)
    {
        var (blobs, listing, store) = await PlannedDatasetAsync();
        await ExtractPlanAsync(blobs, listing, store, 5);
        await BlobFeatureStore.CompleteAsync(blobs, store, 3, 5);
        var partsKey = BlobLayout.FeatureStorePartsKey(store);
        var parts = await blobs.ReadJsonAsync<FeatureStoreParts>(partsKey, ServiceJson.Options);
        var first = parts.Parts.OrderBy(p => p.Key, StringComparer.Ordinal).First();
        var tampered = new Dictionary<string, string>(parts.Parts.Where(p => p.Key != first.Key)) { [name] = key ?? first.Value };
        await blobs.WriteJsonAsync(partsKey, parts with { Parts = tampered }, ServiceJson.Options);
        var target = Path.Combine(Temp.Path, "stage", "store");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => BlobFeatureStore.StageAsync(blobs, store, target));

        Assert.Contains(partsKey, error.Message);
        Assert.Contains($"'{name}'", error.Message);
        Assert.False(Directory.Exists(target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Temp.Path, "escaped.f32", SearchOption.AllDirectories));
    }
}
