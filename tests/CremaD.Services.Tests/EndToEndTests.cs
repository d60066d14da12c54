using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.Storage;
using CremaD.Telemetry;
using CremaD.Testing;
using RunFiles = CremaD.Pipeline.RunFiles;
using RunStage = CremaD.Contracts.RunStage;
using RunManifest = CremaD.Pipeline.RunManifest;

namespace CremaD.Services.Tests;

/// <summary>
/// Whole runs through the four services on a real RabbitMQ and a real Azurite: submitted over HTTP, features in shards,
/// training with per-epoch checkpoints in blob storage, evaluation, artefacts served by the runs API, one trace.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class EndToEndTests(RabbitMqFixture rabbit, AzuriteFixture azurite)
{
    /// <summary>A tiny model: the point is the distributed path, not accuracy.</summary>
    internal static readonly RunConfig TinyConfig = new()
    {
        Epochs = 2, BatchSize = 4, HiddenSize = 8, NumLayers = 1, Patience = 50, ShardSize = 8, Device = RunDevice.Cpu,
    };

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_run_on_perceived_emotions_trains_on_the_voice_votes_in_a_feature_store_of_its_own()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features-1", "trainer", "evaluation");
        var clips = await cluster.UploadDemoSubsetAsync("perceived", 12, 6, 6);

        // Twelve training clips relabelled by listeners need not cover every emotion: no class weights.
        var config = TinyConfig with { UseClassWeights = false };
        var acted = await cluster.WaitForAsync(await cluster.SubmitAsync("perceived", config, "acted"), s => s.Stage.IsTerminal(), "the acted run");
        var perceived = await cluster.WaitForAsync(await cluster.SubmitAsync("perceived", config, "perceived", LabelSourceChoice.Perceived),
            s => s.Stage.IsTerminal(), "the perceived run");

        Assert.True(perceived.Stage == RunStage.Completed, cluster.Describe(perceived));
        Assert.Equal(LabelSourceChoice.Perceived, perceived.Dataset.LabelsFrom);
        // The labels are part of the dataset's fingerprint: the perceived run cannot reuse the acted run's store.
        Assert.NotEqual(acted.Features.FeatureStorePrefix, perceived.Features.FeatureStorePrefix);
        // Clips without a single voice vote are rejected at the dataset step, with the reason; the rest are tested.
        var withoutVote = clips.Where(c => PerceivedEmotions.Of(c, out _) is null).ToList();
        Assert.Equal(withoutVote.Order(StringComparer.Ordinal),
            perceived.RejectedClips.Where(r => r.Stage == RejectionStage.Dataset).Select(r => r.Key["datasets/perceived/".Length..]).Order(StringComparer.Ordinal));
        Assert.All(perceived.RejectedClips, r => Assert.StartsWith("no perceived emotion: ", r.Reason, StringComparison.Ordinal));
        Assert.Equal(6 - withoutVote.Count(c => c.StartsWith("test/", StringComparison.Ordinal)), perceived.Evaluation!.Samples);
        var report = await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(perceived.RunId) + "artifacts/" + ArtifactNames.ClassificationReport);
        var neutral = System.Text.Json.JsonDocument.Parse(report).RootElement.GetProperty("neutral").GetProperty("support").GetInt32();
        var heardNeutral = clips.Count(c => c.StartsWith("test/", StringComparison.Ordinal) && PerceivedEmotions.Of(c, out _) == Emotions.IndexOf("NEU"));
        Assert.Equal(heardNeutral, neutral);
        var manifest = JsonSerializer.Deserialize<RunManifest>(await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(perceived.RunId) + "artifacts/" + RunFiles.Manifest), RunManifest.Json)!;
        Assert.Equal(LabelSource.Perceived, manifest.Dataset.LabelsFrom);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_run_completes_through_the_services_with_its_artefacts_rejections_and_one_trace()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features-1", "features-2", "trainer", "evaluation");
        // Packed as `cremad dataset upload` packs it (7 clips a pack, so shards of 8 straddle packs); the other tests upload loose.
        var dataset = await cluster.UploadDatasetAsync("tiny", brokenClip: true, clipsPerPack: 7);
        Assert.True(await cluster.Blobs.ExistsAsync(BlobLayout.DatasetPackIndexKey(BlobLayout.DatasetPrefix(dataset))));

        var runId = await cluster.SubmitAsync(dataset, TinyConfig);
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run to finish");

        Assert.True(status.Stage == RunStage.Completed, cluster.Describe(status));
        Assert.Equal(1.0, status.Progress);
        Assert.Equal(4, status.Features.ShardCount); // 25 clips in shards of 8
        Assert.Equal(24, status.Features.ClipsExtracted);
        var rejected = Assert.Single(status.RejectedClips);
        Assert.Equal("datasets/tiny/train/1001_DFA_ANG_XX.wav", rejected.Key);
        Assert.Equal([1, 2], status.Training.History.Select(h => h.Epoch));
        Assert.True(status.Training.Completed);
        Assert.NotNull(status.Evaluation);
        Assert.Equal(6, status.Evaluation.Samples);
        Assert.Equal(6, status.Evaluation.PerClassRecall.Count);

        // Artefacts in storage, under the run's prefix.
        var prefix = BlobLayout.RunPrefix(runId);
        foreach (var name in new[] { ArtifactNames.ClassificationReport, ArtifactNames.TestMetrics, ArtifactNames.ConfusionMatrix,
                     ArtifactNames.TrainingCurves, ArtifactNames.History, "test_predictions.csv", RunFiles.Manifest,
                     ArtifactNames.ModelCardJson, ArtifactNames.ModelCardMarkdown, ArtifactNames.ModelCardPlot })
        {
            Assert.True(await cluster.Blobs.ExistsAsync(prefix + "artifacts/" + name), name);
            Assert.Contains(status.Artifacts, a => a.Name == name);
        }
        // The model in the folder of the owner generation that committed it, the only one left beside the pointer.
        var pointer = (await cluster.ModelPointerAsync(runId))!;
        var model = await cluster.TrainedModelPrefixAsync(runId);
        Assert.Equal((model, 2), (pointer.Prefix, pointer.Epoch));
        Assert.Equal(BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(runId), pointer.Generation), model);
        var modelFiles = new[] { ModelFiles.BestModel, ModelFiles.Manifest, ModelFiles.Checkpoint, ArtifactNames.History };
        var stored = new List<string>();
        await foreach (var blob in cluster.Blobs.ListAsync(prefix + "model/")) stored.Add(blob.Key);
        Assert.Equal(modelFiles.Select(name => model + name).Append(BlobLayout.ModelCheckpointKey(prefix + "model/")).Order(StringComparer.Ordinal), stored);
        Assert.Equal(model + ModelFiles.BestModel, status.Artifacts.Single(a => a.Name == ModelFiles.BestModel).Key);
        var metrics = TestMetrics.FromJson(await cluster.Blobs.ReadTextAsync(prefix + "artifacts/" + ArtifactNames.TestMetrics));
        Assert.Equal(status.Evaluation.Accuracy, metrics.Accuracy, 9);

        // run.json: the local pipeline's manifest, for the distributed run.
        var manifest = JsonSerializer.Deserialize<RunManifest>(await cluster.Blobs.ReadTextAsync(prefix + "artifacts/" + RunFiles.Manifest), RunManifest.Json)!;
        Assert.Equal(runId.ToString("D"), manifest.RunId);
        Assert.Equal(status.Timestamps.SubmittedAt, manifest.StartedAt);
        Assert.EndsWith("/" + prefix, manifest.OutputDirectory, StringComparison.Ordinal);
        Assert.EndsWith("/" + status.Features.FeatureStorePrefix, manifest.FeaturesDirectory, StringComparison.Ordinal);
        Assert.Equal(TinyConfig.ToTrainingOptions(threads: 1), manifest.Training);
        Assert.Equal(("cpu", 1), (manifest.Device, manifest.Threads));
        Assert.Contains(manifest.Dataset.Fingerprint, status.Features.FeatureStorePrefix, StringComparison.Ordinal);
        Assert.Equal((24, 1), (manifest.Dataset.Clips, manifest.Dataset.Rejected));
        Assert.Equal(12, manifest.Dataset.ClipsPerPartition["train"]);
        Assert.Equal("train/1001_DFA_ANG_XX.wav", Assert.Single(manifest.RejectedClips).Path);
        Assert.Equal(CremaD.Audio.FeatureRecipe.Describe().Keys, manifest.FeatureRecipe.Keys);
        Assert.False(string.IsNullOrEmpty(manifest.Versions.TorchSharp));
        Assert.Equal((status.Training.BestEpoch, 2, metrics.Accuracy, 6),
            (manifest.Results.BestEpoch, manifest.Results.EpochsRun, manifest.Results.TestAccuracy, manifest.Results.TestClips));
        Assert.All(new[] { manifest.Durations.Features, manifest.Durations.Training, manifest.Durations.Evaluation }, d => Assert.True(d > 0));
        Assert.True(manifest.Durations.Total >= manifest.Durations.Features + manifest.Durations.Training + manifest.Durations.Evaluation - 1e-6);

        // The runs API shows and serves it.
        var api = cluster.RunsApi;
        var shown = await api.GetFromJsonAsync<RunStatus>($"/runs/{runId:D}", ServiceJson.Options);
        Assert.Equal(RunStage.Completed, shown!.Stage);
        var listed = await api.GetFromJsonAsync<List<RunStatus>>("/runs", ServiceJson.Options);
        Assert.Contains(listed!, r => r.RunId == runId);
        Assert.Equal([runId], (await api.GetFromJsonAsync<List<RunStatus>>("/runs?limit=1", ServiceJson.Options))!.Select(r => r.RunId));
        Assert.Equal(HttpStatusCode.BadRequest, (await api.GetAsync("/runs?limit=0")).StatusCode);
        using var png = await api.GetAsync($"/runs/{runId:N}/artifacts/{ArtifactNames.ConfusionMatrix}");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await cluster.Blobs.ReadBytesAsync(prefix + "artifacts/" + ArtifactNames.ConfusionMatrix), await png.Content.ReadAsByteArrayAsync());
        // The model's files are artefacts too, from the model folder.
        using var bestModel = await api.GetAsync($"/runs/{runId:N}/artifacts/{ModelFiles.BestModel}");
        Assert.Equal(HttpStatusCode.OK, bestModel.StatusCode);
        Assert.Equal(await cluster.Blobs.ReadBytesAsync(model + ModelFiles.BestModel), await bestModel.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"/runs/{Guid.NewGuid():D}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/health")).StatusCode);

        // One trace from the HTTP request to the evaluation, with the stages' spans under MassTransit's consume spans.
        var spans = await Eventually.WaitAsync(() => Task.FromResult<IReadOnlyList<Activity>?>(cluster.Spans()),
            s => s.Any(a => a.OperationName == "evaluate model"), TimeSpan.FromSeconds(10), "the evaluation span");
        var post = spans.Single(a => a.Kind == ActivityKind.Server && a.DisplayName.StartsWith("POST", StringComparison.Ordinal));
        var trace = spans.Where(a => a.TraceId == post.TraceId).ToList();
        var byId = trace.ToDictionary(a => a.SpanId);
        Activity ParentOf(Activity a) => byId[a.ParentSpanId];

        var shardSpans = trace.Where(a => a.Source.Name == CremaDTelemetry.FeaturesName && a.OperationName == "feature shard").ToList();
        Assert.Equal(4, shardSpans.Select(a => a.GetTagItem(CremaDTelemetry.ShardIndexTag)).Distinct().Count());
        Assert.All(shardSpans, a => Assert.Equal(CremaDTelemetry.MassTransitName, ParentOf(a).Source.Name));
        Assert.All(shardSpans, a => Assert.Equal(runId.ToString("D"), a.GetTagItem(CremaDTelemetry.RunIdTag)));
        var training = Assert.Single(trace, a => a.OperationName == "train model");
        Assert.Equal(ActivityKind.Consumer, ParentOf(training).Kind);
        var epochs = trace.Where(a => a.OperationName == "epoch").ToList();
        Assert.Equal([1, 2], epochs.Select(a => (int)a.GetTagItem(CremaDTelemetry.EpochTag)!).Order());
        Assert.All(epochs, a => Assert.Equal(training.SpanId, a.ParentSpanId));
        Assert.All(epochs, a => Assert.NotNull(a.GetTagItem("cremad.validation_accuracy")));
        var evaluation = Assert.Single(trace, a => a.OperationName == "evaluate model");
        Assert.Equal(CremaDTelemetry.MassTransitName, ParentOf(evaluation).Source.Name);
        Assert.Equal(status.Evaluation.Accuracy, (double)evaluation.GetTagItem("cremad.test_accuracy")!, 9);
        Assert.Contains(trace, a => a.OperationName == "blob upload model");
        Assert.Contains(trace, a => a.OperationName == "normalisation reduce");
        // Every span of the run's stages belongs to this one trace.
        Assert.All(spans.Where(a => a.Source.Name.StartsWith("CremaD.", StringComparison.Ordinal)
                                    && Equals(a.GetTagItem(CremaDTelemetry.RunIdTag), runId.ToString("D"))),
            a => Assert.Equal(post.TraceId, a.TraceId));
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Two_runs_on_one_dataset_with_other_shard_sizes_at_once_share_one_store_and_both_complete()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features-1", "features-2", "trainer", "evaluation");
        var dataset = await cluster.UploadDatasetAsync("shared", brokenClip: true);

        // 25 clips in 4 shards of 8, or in 4 shards of 7: the same shard count, other shards.
        var runs = await Task.WhenAll(cluster.SubmitAsync(dataset, TinyConfig, "shards of 8"),
            cluster.SubmitAsync(dataset, TinyConfig with { ShardSize = 7 }, "shards of 7"));
        var statuses = await Task.WhenAll(runs.Select(id => cluster.WaitForAsync(id, s => s.Stage.IsTerminal(), "the run to finish")));

        Assert.All(statuses, s => Assert.True(s.Stage == RunStage.Completed, cluster.Describe(s)));
        Assert.All(statuses, s => Assert.Equal(4, s.Features.ShardCount));
        Assert.Single(statuses.Select(s => s.Features.FeatureStorePrefix).Distinct());
        var store = statuses[0].Features.FeatureStorePrefix!;
        var index = await cluster.Blobs.ReadJsonAsync<FeatureStoreIndex>(BlobLayout.FileKey(store, FeatureStoreFiles.Index), FeatureStoreFiles.Json);
        Assert.Equal(24, index.Clips!.Select(c => c.Id).Distinct().Count());
        Assert.Equal(24, index.Clips!.Count);
        // Each plan's shards under their own keys; both runs trained on the one completed store, to the same model.
        var manifests = new List<string>();
        await foreach (var blob in cluster.Blobs.ListAsync(BlobLayout.ShardsPrefix(store)))
        {
            if (BlobLayout.IsShardManifestKey(blob.Key)) manifests.Add(blob.Key);
        }
        Assert.Equal(8, manifests.Count);
        Assert.Equal(
            await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(runs[0]) + "artifacts/" + ArtifactNames.TestMetrics),
            await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(runs[1]) + "artifacts/" + ArtifactNames.TestMetrics));
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_missing_dataset_fails_the_run_and_the_api_says_why()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api");

        var runId = await cluster.SubmitAsync("nowhere", TinyConfig);
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run to fail");

        Assert.Equal(RunStage.Failed, status.Stage);
        Assert.Contains("Dataset 'datasets/nowhere/' was not found", Assert.Single(status.Errors).Message);
        using var invalid = await cluster.RunsApi.PostAsJsonAsync("/runs", new SubmitRunRequest("tiny", new RunConfig { Epochs = 0 }), ServiceJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("epochs must be at least 1", await invalid.Content.ReadAsStringAsync());
    }
}
