using CremaD.Audio;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.FeatureExtraction;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Testing;

namespace CremaD.Services.Tests;

public sealed class FeatureShardProcessorTests : TempDirectoryTests
{
    [Fact]
    public async Task A_shard_writes_its_matrices_and_train_statistics_and_processing_it_again_changes_nothing()
    {
        var blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        var root = Path.Combine(blobs.RootDirectory, "datasets", "d");
        var paths = TestDatasets.WriteDemoSubset(root, train: 2, validation: 1, test: 0, brokenClip: true);
        var clips = paths.Select((p, i) => new ShardClip("datasets/d/" + p, Path.GetFileNameWithoutExtension(p), i % 6,
            p.StartsWith("train/", StringComparison.Ordinal) ? ClipPartition.Train : ClipPartition.Validation, "1001")).ToList();
        var command = new ExtractFeatureShard(Guid.NewGuid(), new DatasetRef("datasets/d/"), "fp1", FeatureRecipe.Version, 0, 1, clips,
            BlobLayout.ShardPrefix(BlobLayout.FeatureStorePrefix("fp1", FeatureRecipe.Version), 0, 1, RunConfig.MaxShardSize));
        var processor = new FeatureShardProcessor(blobs);

        var manifest = await processor.ProcessAsync(command);

        Assert.Equal(3, manifest.Clips.Count);
        var rejected = Assert.Single(manifest.RejectedClips);
        Assert.Equal(clips[^1].Key, rejected.Key);
        var bytes = await blobs.ReadBytesAsync(manifest.FeaturesKey);
        Assert.Equal(manifest.Clips.Sum(c => (long)c.Frames * FeatureRecipe.MelBands * sizeof(float)), bytes.Length);
        var extractor = new ClipFeatureExtractor();
        var expected = new NormalisationAccumulator();
        foreach (var clip in manifest.Clips)
        {
            var features = extractor.FromFile(Path.Combine(root, clip.Key["datasets/d/".Length..]));
            Assert.Equal(features.Frames, clip.Frames);
            var stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)clip.Offset, clip.Frames * FeatureRecipe.MelBands * 4));
            Assert.True(stored.SequenceEqual(features.Data.AsSpan(0, features.Frames * FeatureRecipe.MelBands)));
            if (clip.Partition == ClipPartition.Train) expected.AddClip(features.Data.AsSpan(0, features.Frames * FeatureRecipe.MelBands), features.Frames);
        }
        Assert.Equal(expected.Frames, manifest.TrainStatistics.Frames);
        Assert.Equal(2, manifest.TrainStatistics.Clips);
        Assert.Equal(expected.Mean.ToArray(), manifest.TrainStatistics.Mean);
        Assert.Empty(manifest.ToEvent(command.RunId, DateTimeOffset.UtcNow).FindProblems());

        // A redelivery finds the shard done: same result, same bytes.
        var again = await processor.ProcessAsync(command);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(manifest, ServiceJson.Options), System.Text.Json.JsonSerializer.Serialize(again, ServiceJson.Options));
        Assert.Equal(bytes, await blobs.ReadBytesAsync(manifest.FeaturesKey));
    }

    [Fact]
    public async Task Status_folds_from_concurrent_writers_lose_no_event()
    {
        var blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        var states = new RunStateStore(blobs);
        var runId = Guid.NewGuid();
        const int shards = 16;
        var submit = new SubmitRun(runId, new DatasetRef("datasets/x/"), new RunConfig(), DateTimeOffset.UtcNow);
        await states.UpdateAsync(runId, _ => RunStateStore.Pending(submit));
        await states.ApplyAsync(new RunSubmitted(runId, submit.Dataset, submit.Config, null, "fp", "features/fp/recipe-1/", shards * 10, shards, [],
            submit.SubmittedAt, DateTimeOffset.UtcNow));

        await Task.WhenAll(Enumerable.Range(0, shards).Select(i => Task.Run(() => states.ApplyAsync(new FeatureShardExtracted(runId, i, shards,
            $"features/fp/recipe-1/shards/{i}/features.f32", [], [new ClipRejection($"c{i}.wav", "bad", RejectionStage.Audio)], BandMoments.Empty(), 1, 1,
            DateTimeOffset.UtcNow)))));

        var status = await states.GetAsync(runId);
        Assert.NotNull(status);
        Assert.Equal(Enumerable.Range(0, shards), status.Features.CompletedShards);
        Assert.Equal(shards, status.RejectedClips.Count);
        Assert.Equal(RunStatus.ProgressWeights.Features, status.Progress, 9);
    }
}
