using System.Text.Json.Nodes;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>
/// Services as separate OS processes (the built hosts, started with <c>dotnet</c>) on a real RabbitMQ and Azurite, killed
/// with SIGKILL mid-work: the run still completes, with the same feature store or the same artefacts as an undisturbed
/// run. Where the kill lands is pinned with a <see cref="StallingProxy"/> between the victim and Azurite, so the test
/// kills a feature service that holds a shard it has not finished, and a trainer right after an epoch's checkpoint.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ProcessKillTests(RabbitMqFixture rabbit, AzuriteFixture azurite)
{
    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_feature_service_process_killed_while_it_holds_a_shard_loses_nothing_and_the_store_equals_an_undisturbed_one()
    {
        await using var cluster = new ProcessCluster(rabbit, azurite);
        // Feature service A reads the clips of dataset "disturbed" through a proxy that hangs on the first one.
        await using var proxy = new StallingProxy(azurite.Instance.BlobPort,
            line => line.Contains($"/{cluster.Container}/datasets/disturbed/", StringComparison.Ordinal));
        await Task.WhenAll(
            cluster.StartAsync("runs-api"),
            cluster.StartAsync("features-a", proxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("features-b"),
            cluster.StartAsync("trainer"),
            cluster.StartAsync("evaluation"));
        var config = EndToEndTests.TinyConfig;

        // Undisturbed: both feature services share the shards.
        await cluster.UploadDatasetAsync("undisturbed", brokenClip: true);
        var undisturbed = await cluster.CompleteRunAsync("undisturbed", config);

        // The same files uploaded again (a new fingerprint, so no reuse); A hangs reading a clip of a shard it holds.
        await cluster.UploadDatasetAsync("disturbed", brokenClip: true);
        var runId = await cluster.SubmitAsync("disturbed", config);
        var stalled = await cluster.WithLogsOnTimeout(proxy.Stalled, TimeSpan.FromSeconds(90), "feature service A to read a clip");
        var held = await cluster.States.GetAsync(runId);
        Assert.False(held!.Features.Ready);
        var heldClip = stalled.Split(' ')[1].Split('?')[0];
        Assert.False(await ShardOfClipIsCompleteAsync(cluster.Blobs, held.Features.FeatureStorePrefix!, heldClip),
            "the shard A was reading was already complete: the kill would not be mid-shard");
        await cluster.Process("features-a").KillAsync();

        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run after the kill");

        Assert.True(status.Stage == RunStage.Completed, cluster.Describe(status));
        Assert.Equal(Enumerable.Range(0, status.Features.ShardCount), status.Features.CompletedShards);
        Assert.Equal((undisturbed.Features.ShardCount, 24, 1), (status.Features.ShardCount, status.Features.ClipsExtracted, status.RejectedClips.Count));
        // The clip A never got is in the store: B extracted the shard A held.
        Assert.True(await ShardOfClipIsCompleteAsync(cluster.Blobs, status.Features.FeatureStorePrefix!, heldClip));
        await AssertSameFeatureStoreAsync(cluster.Blobs, undisturbed.Features.FeatureStorePrefix!, status.Features.FeatureStorePrefix!);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_trainer_process_killed_after_an_epoch_checkpoint_is_resumed_by_a_new_process_with_the_uninterrupted_artifacts()
    {
        await using var cluster = new ProcessCluster(rabbit, azurite);
        // Trainer 1 reaches Azurite through a proxy that, once a checkpoint of a run other than the reference one has been
        // stored and then committed (the model pointer rewritten), hangs the trainer's next request: the trainer is stuck
        // right after epoch 1's checkpoint.
        Guid? reference = null;
        var stage = 0; // 1: a checkpoint stored; 2: then committed, every later request hangs
        await using var proxy = new StallingProxy(azurite.Instance.BlobPort, line =>
        {
            if (Volatile.Read(ref stage) == 2) return true;
            if (reference is { } r && line.StartsWith("PUT ", StringComparison.Ordinal) && line.Contains("/model/", StringComparison.Ordinal)
                && !line.Contains($"/runs/{r:N}/", StringComparison.Ordinal))
            {
                if (line.Contains("/" + ModelFiles.Checkpoint, StringComparison.Ordinal)) Volatile.Write(ref stage, 1);
                else if (Volatile.Read(ref stage) == 1 && line.Contains("/model/checkpoint.json", StringComparison.Ordinal)) Volatile.Write(ref stage, 2);
            }
            return false;
        });
        await Task.WhenAll(
            cluster.StartAsync("runs-api"),
            cluster.StartAsync("features"),
            cluster.StartAsync("trainer-1", proxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("evaluation"));
        var config = EndToEndTests.TinyConfig with { Epochs = 4 };
        await cluster.UploadDatasetAsync("resume", brokenClip: true);

        // Uninterrupted reference, by the same trainer process.
        var referenceRun = await cluster.SubmitAsync("resume", config);
        reference = referenceRun;
        var referenceStatus = await cluster.WaitForAsync(referenceRun, s => s.Stage.IsTerminal(), "the reference run");
        Assert.True(referenceStatus.Stage == RunStage.Completed, cluster.Describe(referenceStatus));

        var runId = await cluster.SubmitAsync("resume", config);
        await cluster.WithLogsOnTimeout(proxy.Stalled, TimeSpan.FromSeconds(120), "trainer 1 to store a checkpoint");
        var committed = await cluster.ModelPointerAsync(runId);
        Assert.True(committed?.Prefix is { } checkpoint && await cluster.Blobs.ExistsAsync(checkpoint + ModelFiles.Checkpoint),
            "trainer 1 committed no checkpoint");
        var beforeKill = await cluster.States.GetAsync(runId);
        Assert.True(beforeKill!.Stage == RunStage.Training && !beforeKill.Training.Completed, cluster.Describe(beforeKill));
        await cluster.Process("trainer-1").KillAsync();

        // Its lease is never released; a new trainer process takes the run once it expires and resumes from the checkpoint.
        var trainer2 = await cluster.StartAsync("trainer-2");
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the resumed run");

        Assert.True(status.Stage == RunStage.Completed, cluster.Describe(status));
        Assert.Contains($"Run {runId:D}: resuming training from the checkpoint", await File.ReadAllTextAsync(trainer2.LogFile));
        Assert.Equal(
            referenceStatus.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy, h.LearningRate)),
            status.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy, h.LearningRate)));
        foreach (var name in new[] { ArtifactNames.TestMetrics, ArtifactNames.ClassificationReport, "test_predictions.csv" })
        {
            Assert.Equal(
                await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(referenceRun) + "artifacts/" + name),
                await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(runId) + "artifacts/" + name));
        }
        Assert.Equal(
            await cluster.Blobs.ReadBytesAsync(await cluster.TrainedModelPrefixAsync(referenceRun) + ModelFiles.BestModel),
            await cluster.Blobs.ReadBytesAsync(await cluster.TrainedModelPrefixAsync(runId) + ModelFiles.BestModel));
    }

    /// <summary>Whether the shard whose manifest lists (or rejects) the clip at <paramref name="requestPath"/> is complete.</summary>
    private static async Task<bool> ShardOfClipIsCompleteAsync(IBlobStore blobs, string storePrefix, string requestPath)
    {
        // "/devstoreaccount1/<container>/datasets/..." → "datasets/..."
        var key = Uri.UnescapeDataString(string.Join('/', requestPath.Split('/').Skip(3)));
        await foreach (var blob in blobs.ListAsync(BlobLayout.ShardsPrefix(storePrefix)))
        {
            if (!BlobLayout.IsShardManifestKey(blob.Key)) continue;
            var manifest = await blobs.ReadJsonAsync<FeatureShardManifest>(blob.Key, ServiceJson.Options);
            if (manifest.Clips.Any(c => c.Key == key) || manifest.RejectedClips.Any(r => r.Key == key)) return true;
        }
        return false;
    }

    /// <summary>
    /// The two stores hold the same clips at the same places with the same matrices, and the same normalisation: every file
    /// but what records the uploads' modification times (index entries' source_mtime_utc, the train fingerprint, metadata).
    /// </summary>
    private static async Task AssertSameFeatureStoreAsync(IBlobStore blobs, string expectedPrefix, string actualPrefix)
    {
        async Task<JsonNode> ReadAsync(string prefix, string name) => JsonNode.Parse(await blobs.ReadTextAsync(prefix + name))!;

        var expectedIndex = await ReadAsync(expectedPrefix, FeatureStoreFiles.Index);
        var actualIndex = await ReadAsync(actualPrefix, FeatureStoreFiles.Index);
        foreach (var index in new[] { expectedIndex, actualIndex })
        {
            foreach (var entry in index["clips"]!.AsArray()) entry!.AsObject().Remove("source_mtime_utc");
        }
        Assert.Equal(24, actualIndex["clips"]!.AsArray().Count);
        Assert.Equal(expectedIndex.ToJsonString(), actualIndex.ToJsonString());

        var expectedNormalisation = await ReadAsync(expectedPrefix, FeatureStoreFiles.Normalisation);
        var actualNormalisation = await ReadAsync(actualPrefix, FeatureStoreFiles.Normalisation);
        expectedNormalisation.AsObject().Remove("train_fingerprint");
        actualNormalisation.AsObject().Remove("train_fingerprint");
        Assert.Equal(expectedNormalisation.ToJsonString(), actualNormalisation.ToJsonString());

        Assert.Equal(await blobs.ReadTextAsync(expectedPrefix + FeatureStoreFiles.Rejected), await blobs.ReadTextAsync(actualPrefix + FeatureStoreFiles.Rejected));

        var expectedParts = await blobs.ReadJsonAsync<FeatureStoreParts>(BlobLayout.FeatureStorePartsKey(expectedPrefix), ServiceJson.Options);
        var actualParts = await blobs.ReadJsonAsync<FeatureStoreParts>(BlobLayout.FeatureStorePartsKey(actualPrefix), ServiceJson.Options);
        Assert.Equal(expectedParts.Parts.Keys.Order(), actualParts.Parts.Keys.Order());
        foreach (var part in expectedParts.Parts.Keys)
        {
            Assert.Equal(await blobs.ReadBytesAsync(expectedParts.Parts[part]), await blobs.ReadBytesAsync(actualParts.Parts[part]));
        }
    }
}
