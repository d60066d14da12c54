using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
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
            cluster.StartAsync("CremaD.RunsApi", "runs-api"),
            cluster.StartAsync("CremaD.FeatureService", "features-a", proxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("CremaD.FeatureService", "features-b"),
            cluster.StartAsync("CremaD.TrainerService", "trainer"),
            cluster.StartAsync("CremaD.EvaluationService", "evaluation"));
        var config = EndToEndTests.TinyConfig;

        // Undisturbed: both feature services share the shards.
        await cluster.UploadDatasetAsync("undisturbed");
        var undisturbed = await cluster.CompleteRunAsync("undisturbed", config);

        // The same files uploaded again (a new fingerprint, so no reuse); A hangs reading a clip of a shard it holds.
        await cluster.UploadDatasetAsync("disturbed");
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
        // stored, hangs the trainer's next request: the trainer is stuck right after epoch 1's checkpoint.
        Guid? reference = null;
        var armed = false;
        await using var proxy = new StallingProxy(azurite.Instance.BlobPort, line =>
        {
            if (Volatile.Read(ref armed)) return true;
            if (reference is { } r && line.StartsWith("PUT ", StringComparison.Ordinal) && line.Contains("/model/last_checkpoint", StringComparison.Ordinal)
                && !line.Contains($"/runs/{r:N}/", StringComparison.Ordinal))
            {
                Volatile.Write(ref armed, true);
            }
            return false;
        });
        await Task.WhenAll(
            cluster.StartAsync("CremaD.RunsApi", "runs-api"),
            cluster.StartAsync("CremaD.FeatureService", "features"),
            cluster.StartAsync("CremaD.TrainerService", "trainer-1", proxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("CremaD.EvaluationService", "evaluation"));
        var config = EndToEndTests.TinyConfig with { Epochs = 4 };
        await cluster.UploadDatasetAsync("resume");

        // Uninterrupted reference, by the same trainer process.
        var referenceRun = await cluster.SubmitAsync("resume", config);
        reference = referenceRun;
        var referenceStatus = await cluster.WaitForAsync(referenceRun, s => s.Stage.IsTerminal(), "the reference run");
        Assert.True(referenceStatus.Stage == RunStage.Completed, cluster.Describe(referenceStatus));

        var runId = await cluster.SubmitAsync("resume", config);
        await cluster.WithLogsOnTimeout(proxy.Stalled, TimeSpan.FromSeconds(120), "trainer 1 to store a checkpoint");
        var modelPrefix = BlobLayout.RunPrefix(runId) + "model/";
        Assert.True(await cluster.Blobs.ExistsAsync(modelPrefix + ModelFiles.Checkpoint));
        var beforeKill = await cluster.States.GetAsync(runId);
        Assert.True(beforeKill!.Stage == RunStage.Training && !beforeKill.Training.Completed, cluster.Describe(beforeKill));
        await cluster.Process("trainer-1").KillAsync();

        // Its lease is never released; a new trainer process takes the run once it expires and resumes from the checkpoint.
        var trainer2 = await cluster.StartAsync("CremaD.TrainerService", "trainer-2");
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
            await cluster.Blobs.ReadBytesAsync(BlobLayout.RunPrefix(referenceRun) + "model/" + ModelFiles.BestModel),
            await cluster.Blobs.ReadBytesAsync(modelPrefix + ModelFiles.BestModel));
    }

    /// <summary>Whether the shard whose manifest lists (or rejects) the clip at <paramref name="requestPath"/> is complete.</summary>
    private static async Task<bool> ShardOfClipIsCompleteAsync(IBlobStore blobs, string storePrefix, string requestPath)
    {
        // "/devstoreaccount1/<container>/datasets/..." → "datasets/..."
        var key = Uri.UnescapeDataString(string.Join('/', requestPath.Split('/').Skip(3)));
        await foreach (var blob in blobs.ListAsync(storePrefix + "shards/"))
        {
            if (!blob.Key.EndsWith("/" + FeatureShardManifest.FileName, StringComparison.Ordinal)) continue;
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

        var expectedParts = await blobs.ReadJsonAsync<FeatureStoreParts>(expectedPrefix + FeatureStoreParts.FileName, ServiceJson.Options);
        var actualParts = await blobs.ReadJsonAsync<FeatureStoreParts>(actualPrefix + FeatureStoreParts.FileName, ServiceJson.Options);
        Assert.Equal(expectedParts.Parts.Keys.Order(), actualParts.Parts.Keys.Order());
        foreach (var part in expectedParts.Parts.Keys)
        {
            Assert.Equal(await blobs.ReadBytesAsync(expectedParts.Parts[part]), await blobs.ReadBytesAsync(actualParts.Parts[part]));
        }
    }
}

/// <summary>The four services as separate processes on the fixtures' RabbitMQ and Azurite, in a container of their own.</summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);

    private readonly RabbitMqFixture _rabbit;
    private readonly AzuriteFixture _azurite;
    private readonly TempDirectory _temp = new();
    private readonly List<ServiceProcess> _processes = [];

    public ProcessCluster(RabbitMqFixture rabbit, AzuriteFixture azurite)
    {
        _rabbit = rabbit;
        _azurite = azurite;
        Container = "proc-" + Guid.NewGuid().ToString("N")[..12];
        Blobs = BlobStoreFactory.FromConnectionString(azurite.ConnectionString, Container);
        States = new RunStateStore(Blobs);
    }

    public string Container { get; }

    public IBlobStore Blobs { get; }

    public RunStateStore States { get; }

    public ServiceProcess Process(string name)
    {
        lock (_processes) return _processes.Single(p => p.Name == name);
    }

    /// <summary>Starts a host as <paramref name="name"/>; its blob storage is <paramref name="blobs"/> (default: Azurite directly).</summary>
    public async Task<ServiceProcess> StartAsync(string host, string name, string? blobs = null)
    {
        var environment = ServiceProcess.BaseEnvironment(_rabbit.ConnectionString, blobs ?? _azurite.ConnectionString, Container, _temp.Sub("work-" + name));
        // Quick retries and polls, one LibTorch thread (a fixed thread count makes training reproducible), the shortest lease.
        environment["Messaging__RetryIntervals__0"] = "00:00:00.200";
        environment["Messaging__RetryIntervals__1"] = "00:00:01";
        environment["Trainer__PollInterval"] = "00:00:01";
        environment["Trainer__LeaseDuration"] = "00:00:15";
        environment["Trainer__Threads"] = "1";
        environment["Evaluation__Threads"] = "1";
        var process = await ServiceProcess.StartAsync(host, name, environment, _temp.Sub("logs"), StartTimeout);
        lock (_processes) _processes.Add(process);
        return process;
    }

    /// <summary>Uploads the 25-clip subset of samples/demo (one broken clip) under <c>datasets/&lt;name&gt;/</c>.</summary>
    public async Task UploadDatasetAsync(string name)
    {
        var local = _temp.Sub("dataset-" + name);
        TestDatasets.WriteDemoSubset(local, train: 12, validation: 6, test: 6, brokenClip: true);
        await Blobs.UploadDirectoryAsync(local, $"datasets/{name}");
    }

    public async Task<Guid> SubmitAsync(string dataset, RunConfig config)
    {
        using var response = await Process("runs-api").Http.PostAsJsonAsync("/runs", new SubmitRunRequest(dataset, config, "process test"), ServiceJson.Options);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<SubmitRunResponse>(ServiceJson.Options))!.RunId;
    }

    public async Task<RunStatus> CompleteRunAsync(string dataset, RunConfig config)
    {
        var runId = await SubmitAsync(dataset, config);
        var status = await WaitForAsync(runId, s => s.Stage.IsTerminal(), $"the run on {dataset}");
        Assert.True(status.Stage == RunStage.Completed, Describe(status));
        return status;
    }

    public async Task<RunStatus> WaitForAsync(Guid runId, Func<RunStatus, bool> done, string what)
    {
        try
        {
            return await Eventually.WaitAsync(() => States.GetAsync(runId), done, RunTimeout, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Environment.NewLine + LogTails(), e);
        }
    }

    public async Task<T> WithLogsOnTimeout<T>(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.{Environment.NewLine}{LogTails()}", e);
        }
    }

    /// <summary>A status and the processes' log tails, for an assertion message.</summary>
    public string Describe(RunStatus status) => JsonSerializer.Serialize(status, ServiceJson.Options) + Environment.NewLine + LogTails();

    private string LogTails()
    {
        lock (_processes) return string.Join(Environment.NewLine, _processes.Select(p => p.LogTail(30)));
    }

    public async ValueTask DisposeAsync()
    {
        List<ServiceProcess> processes;
        lock (_processes) processes = [.. _processes];
        foreach (var process in processes) await process.DisposeAsync();
        if (Blobs is AzureBlobStore azure) await azure.Container.DeleteIfExistsAsync();
        _temp.Dispose();
    }
}
