using System.Net;
using System.Net.Http.Json;
using CremaD.Contracts;
using CremaD.Evaluation;
using CremaD.LocalInfrastructure;
using CremaD.Storage;
using CremaD.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace CremaD.Services.Tests;

/// <summary>
/// The outage drills: the services as separate processes on a real RabbitMQ and a real Azurite, one of which is killed
/// or stopped mid-run and brought back later. Each drill ends with the run completed and its artefacts equal to an
/// undisturbed run of the same recipe on the same files (or, for the poison message, the run failed with the reason and
/// the service serving the next run). Where a fault lands is pinned with a <see cref="StallingProxy"/> that holds a
/// service at an exact point of its work while the fault is made, then lets it go on.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class DrillTests(RabbitMqFixture rabbit, AzuriteFixture azurite, ITestOutputHelper output)
{
    /// <summary>The reconciler looks every 2 s and re-drives a run after 10 s without progress; the trainer retries within 5 s.</summary>
    private static readonly IReadOnlyDictionary<string, string> DrillSettings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Reconciler:Interval"] = "00:00:02",
        ["Reconciler:StallAfter"] = "00:00:10",
        ["Reconciler:MaxBackoff"] = "00:00:20",
        ["Trainer:RetryDelay"] = "00:00:01",
        ["Trainer:MaxRetryDelay"] = "00:00:05",
    };

    private static readonly RunConfig Recipe = EndToEndTests.TinyConfig with { Epochs = 4 };

    private void Log(string line) => output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task The_broker_killed_mid_features_and_mid_training_and_back_20_s_later_the_run_completes_with_the_undisturbed_artifacts()
    {
        await using var broker = await RabbitMqInstance.StartAsync();
        await using var cluster = new ProcessCluster(broker.ConnectionString, azurite.ConnectionString, DrillSettings);
        var disturbed = new DisturbedRun();
        // The feature service hangs on its first clip of the disturbed dataset; the trainer on the disturbed run's epoch 1 commit.
        await using var featureProxy = new StallingProxy(azurite.Instance.BlobPort,
            line => line.Contains($"/{cluster.Container}/datasets/disturbed/", StringComparison.Ordinal));
        await using var trainerProxy = disturbed.EpochCommitGate(azurite.Instance.BlobPort);
        await Task.WhenAll(
            cluster.StartAsync("runs-api"),
            cluster.StartAsync("features", featureProxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("trainer", trainerProxy.ConnectionString(azurite.ConnectionString)),
            cluster.StartAsync("evaluation"));
        var undisturbed = await disturbed.SubmitAfterAnUndisturbedRunAsync(cluster);

        await cluster.WithLogsOnTimeout(featureProxy.Stalled, TimeSpan.FromSeconds(90), "the feature service to read a clip");
        Assert.False((await cluster.States.GetAsync(disturbed.RunId))!.Features.Ready);
        await OutageAsync("broker killed mid-features", broker.KillAsync, featureProxy, TimeSpan.FromSeconds(20), () => broker.RestartAsync());

        await disturbed.WaitMidTrainingAsync(cluster, trainerProxy);
        await OutageAsync("broker killed mid-training", broker.KillAsync, trainerProxy, TimeSpan.FromSeconds(20), () => broker.RestartAsync());

        var status = await cluster.WaitForAsync(disturbed.RunId, s => s.Stage.IsTerminal(), "the run after the broker's outages");
        Log($"run {status.Stage}");
        await AssertSameRunAsync(cluster, undisturbed, status);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Azurite_stopped_for_60_s_mid_training_the_run_completes_with_the_undisturbed_artifacts()
    {
        await using var storage = await AzuriteInstance.StartAsync(new AzuriteOptions { InMemoryPersistence = false });
        await using var cluster = new ProcessCluster(rabbit.ConnectionString, storage.ConnectionString, DrillSettings);
        var disturbed = new DisturbedRun();
        await using var trainerProxy = disturbed.EpochCommitGate(storage.BlobPort);
        await Task.WhenAll(
            cluster.StartAsync("runs-api"),
            cluster.StartAsync("features"),
            cluster.StartAsync("trainer", trainerProxy.ConnectionString(storage.ConnectionString)),
            cluster.StartAsync("evaluation"));
        var undisturbed = await disturbed.SubmitAfterAnUndisturbedRunAsync(cluster);

        // Every service loses storage (the trainer mid-commit) for longer than any of their retries.
        await disturbed.WaitMidTrainingAsync(cluster, trainerProxy);
        await OutageAsync("Azurite stopped mid-training", storage.TerminateAsync, trainerProxy, TimeSpan.FromSeconds(60), () => storage.RestartAsync());

        var status = await cluster.WaitForAsync(disturbed.RunId, s => s.Stage.IsTerminal(), "the run after the storage outage");
        Log($"run {status.Stage}");
        await AssertSameRunAsync(cluster, undisturbed, status);
    }

    /// <summary>Stops a server, lets the pinned service go on without it for <paramref name="length"/>, starts it again.</summary>
    private async Task OutageAsync(string what, Func<Task> stop, StallingProxy pinned, TimeSpan length, Func<Task> start)
    {
        await stop();
        Log(what);
        pinned.Release();
        await Task.Delay(length);
        await start();
        Log("back");
    }

    /// <summary>
    /// The run a drill disturbs, after an undisturbed one of the same recipe on the same files to compare it with; and a
    /// proxy for the trainer that holds it at that run's epoch 1 commit (its first write of the checkpoint pointer is its
    /// takeover, the second epoch 1's commit).
    /// </summary>
    private sealed class DisturbedRun
    {
        private string? _id;
        private int _commits;

        public Guid RunId { get; private set; }

        public StallingProxy EpochCommitGate(int blobPort) => new(blobPort, line =>
            Volatile.Read(ref _id) is { } id && line.StartsWith("PUT ", StringComparison.Ordinal)
            && line.Contains($"/runs/{id}/model/checkpoint.json", StringComparison.Ordinal) && Interlocked.Increment(ref _commits) == 2);

        /// <summary>Completes a run on "undisturbed", then submits this one on "disturbed"; returns the undisturbed run.</summary>
        public async Task<RunStatus> SubmitAfterAnUndisturbedRunAsync(ProcessCluster cluster)
        {
            await cluster.UploadDatasetAsync("undisturbed", brokenClip: true);
            var undisturbed = await cluster.CompleteRunAsync("undisturbed", Recipe);
            // The same files uploaded again, later: a new fingerprint (it has the files' times), so the features are not reused.
            await cluster.UploadDatasetAsync("disturbed", brokenClip: true);
            RunId = await cluster.SubmitAsync("disturbed", Recipe);
            Volatile.Write(ref _id, RunId.ToString("N"));
            return undisturbed;
        }

        /// <summary>Waits until the gate holds the trainer at epoch 1's commit, and checks the run is mid-training.</summary>
        public async Task WaitMidTrainingAsync(ProcessCluster cluster, StallingProxy gate)
        {
            await cluster.WithLogsOnTimeout(gate.Stalled, TimeSpan.FromSeconds(180), "the trainer to commit epoch 1's checkpoint");
            var mid = (await cluster.States.GetAsync(RunId))!;
            Assert.True(mid.Features.Ready && !mid.Training.Completed, cluster.Describe(mid));
        }
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task The_coordinator_killed_after_recording_FeaturesReady_before_TrainModel_reached_the_broker_the_reconciler_completes_the_run()
    {
        await using var broker = await RabbitMqInstance.StartAsync();
        await using var cluster = new ProcessCluster(broker.ConnectionString, azurite.ConnectionString, DrillSettings);
        await Task.WhenAll(cluster.StartAsync("runs-api"), cluster.StartAsync("features"), cluster.StartAsync("evaluation"),
            cluster.StartAsync("trainer-1"));
        await cluster.UploadDatasetAsync("coordinator", brokenClip: true);
        // The trainer has declared its queue; now it is gone.
        await cluster.Process("trainer-1").KillAsync();

        // No trainer: the run stops at FeaturesReady with its TrainModel in the queue. The coordinator is killed and
        // that TrainModel purged: the state a kill between the status write and the send leaves behind, with the
        // shard report already acknowledged, so no redelivery will send it again. Only the reconciler can.
        var runId = await cluster.SubmitAsync("coordinator", Recipe);
        await cluster.WaitForAsync(runId, s => s.Features.Ready, "the features to be ready");
        // Once TrainModel is in the queue the shard report that led to it has been acknowledged (the outbox sends first).
        await Eventually.WaitAsync(async () => (object?)(await MessagesInAsync(broker.ConnectionString, QueueNames.TrainModel) > 0 ? "queued" : null),
            _ => true, TimeSpan.FromSeconds(60), "TrainModel to be queued");
        await cluster.Process("runs-api").KillAsync();
        var purged = await PurgeAsync(broker.ConnectionString, QueueNames.TrainModel);
        Log($"runs API killed after FeaturesReady; {purged} TrainModel purged");
        Assert.True(purged >= 1, "no TrainModel was waiting: the drill did not stop the run where it meant to");

        var api = await cluster.StartAsync("runs-api-2");
        await cluster.StartAsync("trainer-2");
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run after the coordinator's death");
        Assert.True(status.Stage == RunStage.Completed, cluster.Describe(status));
        Assert.Contains($"Run {runId:D} has not moved since", await File.ReadAllTextAsync(api.LogFile), StringComparison.Ordinal);
        Assert.Equal(Recipe.Epochs, status.Training.History.Count);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_shard_that_kills_its_feature_process_fails_the_run_at_the_delivery_limit_and_the_service_serves_the_next_run()
    {
        await using var cluster = new ProcessCluster(rabbit.ConnectionString, azurite.ConnectionString,
            new Dictionary<string, string>(DrillSettings) { ["Messaging:MaxDeliveries"] = "2" });
        await Task.WhenAll(cluster.StartAsync("runs-api"), cluster.StartAsync("trainer"), cluster.StartAsync("evaluation"));
        await cluster.UploadDatasetAsync("poison", brokenClip: false);
        await cluster.UploadDatasetAsync("healthy", brokenClip: false);
        var runId = await cluster.SubmitAsync("poison", Recipe with { ShardSize = 64 });

        // The one shard's first clip "crashes" each feature process that reads it: the process is killed there, and the
        // broker hands the shard to the next one, until the delivery limit (2 deliveries) refuses it.
        string? clip = null;
        var kills = 0;
        var failed = cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the poisoned run to fail");
        for (var incarnation = 1; ; incarnation++)
        {
            var proxy = new StallingProxy(azurite.Instance.BlobPort, line => clip is null
                ? line.Contains($"/{cluster.Container}/datasets/poison/", StringComparison.Ordinal)
                : line.Contains(clip, StringComparison.Ordinal));
            await using (proxy)
            {
                var features = await cluster.StartAsync($"features-{incarnation}", proxy.ConnectionString(azurite.ConnectionString));
                var stalled = proxy.Stalled;
                if (await Task.WhenAny(stalled, failed) == failed)
                {
                    var status = await failed;
                    Log($"run {status.Stage} after {kills} kills: {status.Errors.LastOrDefault()?.Message}");
                    Assert.True(status.Stage == RunStage.Failed, cluster.Describe(status));
                    Assert.Contains("delivery limit 2", status.Errors.Single().Message, StringComparison.Ordinal);
                    Assert.Contains("ExtractFeatureShard", status.Errors.Single().Message, StringComparison.Ordinal);
                    break;
                }
                clip ??= (await stalled).Split(' ')[1].Split('?')[0];
                await features.KillAsync();
                kills++;
                Log($"feature process {incarnation} killed on {clip}");
                Assert.True(kills <= 2, "the shard was delivered past the delivery limit");
            }
        }
        Assert.Equal(2, kills);

        // The service itself is fine: a feature process serves the next run to the end.
        await cluster.StartAsync("features-healthy");
        await cluster.CompleteRunAsync("healthy", Recipe);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Fifty_concurrent_submissions_are_all_accepted_and_all_complete_with_the_same_result()
    {
        const int Runs = 50;
        // Separate processes, as deployed: training in a process of its own is reproducible run after run (LibTorch's
        // thread settings are partly process-wide, so trainings beside other work in one process may round differently).
        await using var cluster = new ProcessCluster(rabbit.ConnectionString, azurite.ConnectionString,
            new Dictionary<string, string>(DrillSettings) { ["RunsApi:MaxRunsInFlightPerSubmitter"] = "100" });
        await Task.WhenAll(cluster.StartAsync("runs-api"), cluster.StartAsync("features"), cluster.StartAsync("trainer"), cluster.StartAsync("evaluation"));
        var api = cluster.Process("runs-api").Http;
        await cluster.UploadDatasetAsync("crowd", brokenClip: true);
        var recipe = EndToEndTests.TinyConfig;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, Runs).Select(async i =>
        {
            using var response = await api.PostAsJsonAsync("/runs", new SubmitRunRequest("crowd", recipe, $"crowd {i}"), ServiceJson.Options);
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<SubmitRunResponse>(ServiceJson.Options))?.RunId);
        }));
        Log($"{Runs} POST /runs answered in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        var ids = answers.Select(a => a.RunId!.Value).ToHashSet();
        Assert.Equal(Runs, ids.Count);

        // Polled once a second (every run's status each time), for at most 10 minutes.
        List<RunStatus?> finished;
        do
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            finished = [.. await Task.WhenAll(ids.Select(id => cluster.States.GetAsync(id)))];
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(10),
                $"{finished.Count(s => s is not null && s.Stage.IsTerminal())} of {Runs} runs finished in 10 minutes");
        }
        while (!finished.All(s => s is not null && s.Stage.IsTerminal()));
        Log($"{Runs} runs finished {clock.Elapsed.TotalSeconds:0.0} s after the first POST");

        Assert.All(finished, s => Assert.True(s!.Stage == RunStage.Completed, cluster.Describe(s)));
        // Every run is listed, none twice, and none is left in flight.
        var listed = await api.GetFromJsonAsync<List<RunStatus>>($"/runs?limit={Runs * 2}", ServiceJson.Options);
        Assert.Equal(ids.Order(), listed!.Select(r => r.RunId).Order());
        Assert.Empty(await cluster.States.ListInFlightAsync(null));
        // One dataset, one recipe: one feature store and one result, 24 clips and 1 rejection in every run.
        Assert.Single(finished.Select(s => s!.Features.FeatureStorePrefix).Distinct());
        var results = finished.GroupBy(s => (s!.Evaluation!.Accuracy, s.Evaluation.MacroF1)).ToList();
        Assert.True(results.Count == 1, string.Join("\n\n", results.Select(g => $"{g.Count()} runs with {g.Key}: {cluster.Describe(g.First()!)}")));
        Assert.All(finished, s => Assert.Equal((24, 1), (s!.Features.ClipsExtracted, s.RejectedClips.Count)));
    }

    /// <summary>The disturbed run completed with what the undisturbed one has: every epoch, the clips, the test results, the model.</summary>
    private static async Task AssertSameRunAsync(TestCluster cluster, RunStatus undisturbed, RunStatus disturbed)
    {
        Assert.True(disturbed.Stage == RunStage.Completed, cluster.Describe(disturbed));
        Assert.Equal((undisturbed.Features.ClipsExtracted, undisturbed.RejectedClips.Count), (disturbed.Features.ClipsExtracted, disturbed.RejectedClips.Count));
        Assert.Equal(
            undisturbed.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy, h.LearningRate)),
            disturbed.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.ValidationLoss, h.ValidationAccuracy, h.LearningRate)));
        foreach (var name in new[] { ArtifactNames.TestMetrics, ArtifactNames.ClassificationReport, "test_predictions.csv" })
        {
            Assert.Equal(await cluster.Blobs.ReadTextAsync(ArtifactKey(undisturbed, name)), await cluster.Blobs.ReadTextAsync(ArtifactKey(disturbed, name)));
        }
        Assert.Equal(await cluster.Blobs.ReadBytesAsync(ArtifactKey(undisturbed, "best_model")), await cluster.Blobs.ReadBytesAsync(ArtifactKey(disturbed, "best_model")));
    }

    private static string ArtifactKey(RunStatus status, string name) => status.Artifacts.Single(a => a.Name == name).Key;

    /// <summary>Messages ready in a queue of the broker.</summary>
    private static async Task<uint> MessagesInAsync(string connectionString, string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(connectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Empties a queue of the broker; returns how many messages it held.</summary>
    private static async Task<uint> PurgeAsync(string connectionString, string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(connectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await channel.QueuePurgeAsync(queue);
    }
}
