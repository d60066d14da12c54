using CremaD.Contracts;
using CremaD.Evaluation;
using CremaD.FeatureExtraction;
using CremaD.Storage;
using CremaD.Telemetry;
using CremaD.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace CremaD.Services.Tests;

/// <summary>Services that die mid-work, on a real RabbitMQ and a real Azurite: the run still completes, with the same results.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ResilienceTests(RabbitMqFixture rabbit, AzuriteFixture azurite)
{
    private static readonly RunConfig Config = EndToEndTests.TinyConfig with { Epochs = 16 };

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_trainer_that_dies_after_a_checkpoint_is_resumed_by_another_once_its_lease_expires_with_the_uninterrupted_result()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features", "evaluation");
        var referenceTrainer = await cluster.StartAsync("trainer-reference", configure: null);
        var dataset = await cluster.UploadDatasetAsync("resume", brokenClip: false);

        // Uninterrupted reference.
        var reference = await cluster.SubmitAsync(dataset, Config);
        var referenceStatus = await cluster.WaitForAsync(reference, s => s.Stage.IsTerminal(), "the reference run");
        Assert.Equal(RunStage.Completed, referenceStatus.Stage);
        await cluster.StopAsync(referenceTrainer);

        // Same data and recipe; the trainer dies (its lease is never released) once an epoch's checkpoint is in storage.
        var firstTrainer = await cluster.StartAsync("trainer-1", builder =>
            builder.Services.AddSingleton<IBlobStore>(new AbandoningLeaseStore(cluster.Blobs)));
        var runId = await cluster.SubmitAsync(dataset, Config);
        await cluster.WaitForAsync(runId, s => s.Training.EpochsCompleted >= 1 || s.Stage.IsTerminal(), "a first epoch");
        await cluster.StopAsync(firstTrainer);
        var afterStop = await cluster.States.GetAsync(runId);
        Assert.True(afterStop!.Stage == RunStage.Training && !afterStop.Training.Completed,
            $"The trainer finished before it could be stopped ({afterStop.Training.EpochsCompleted} epochs); the test needs longer epochs.");
        var committed = await cluster.ModelPointerAsync(runId);
        Assert.True(committed?.Prefix is { } checkpoint && await cluster.Blobs.ExistsAsync(checkpoint + CremaD.Learning.ModelFiles.Checkpoint),
            "trainer 1 committed no checkpoint");

        await cluster.StartAsync("trainer-2");
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the resumed run");

        Assert.Equal(RunStage.Completed, status.Stage);
        Assert.True(status.Features.Reused);
        var resumed = cluster.Spans().Where(a => a.OperationName == "train model" && Equals(a.GetTagItem(CremaDTelemetry.RunIdTag), runId.ToString("D")))
            .ToList();
        Assert.Contains(resumed, a => Equals(a.GetTagItem("cremad.resumed"), true));
        // A resumed training is the uninterrupted one: same epochs, same losses, same test metrics.
        Assert.Equal(referenceStatus.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.ValidationAccuracy)),
            status.Training.History.Select(h => (h.Epoch, h.TrainLoss, h.ValidationAccuracy)));
        Assert.Equal(
            await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(reference) + "artifacts/" + ArtifactNames.TestMetrics),
            await cluster.Blobs.ReadTextAsync(BlobLayout.RunPrefix(runId) + "artifacts/" + ArtifactNames.TestMetrics));
        Assert.Equal(
            await cluster.Blobs.ReadBytesAsync(await cluster.TrainedModelPrefixAsync(reference) + CremaD.Learning.ModelFiles.BestModel),
            await cluster.Blobs.ReadBytesAsync(await cluster.TrainedModelPrefixAsync(runId) + CremaD.Learning.ModelFiles.BestModel));
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_feature_worker_stopped_mid_shard_loses_nothing_the_shard_is_redelivered()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "trainer", "evaluation");
        var dataset = await cluster.UploadDatasetAsync("redelivery", brokenClip: false);

        // The first worker hangs in the middle of a shard (reading one clip's audio) until it is stopped.
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hangingWorker = await cluster.StartAsync("features-hanging", builder =>
        {
            builder.Services.AddSingleton(provider => new FeatureShardProcessor(new HangingBlobStore(cluster.Blobs, "validation/", stuck)));
            builder.Services.Configure<MassTransitHostOptions>(options =>
            {
                options.ConsumerStopTimeout = TimeSpan.FromSeconds(1);
                options.StopTimeout = TimeSpan.FromSeconds(10);
            });
        });

        var runId = await cluster.SubmitAsync(dataset, EndToEndTests.TinyConfig);
        await stuck.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var before = await cluster.States.GetAsync(runId);
        Assert.False(before!.Features.Ready);
        await cluster.StopAsync(hangingWorker);

        await cluster.StartAsync("features-healthy");
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run to finish");

        Assert.Equal(RunStage.Completed, status.Stage);
        Assert.Equal(Enumerable.Range(0, status.Features.ShardCount), status.Features.CompletedShards);
        Assert.Equal(24, status.Features.ClipsExtracted);
        Assert.Empty(status.RejectedClips);
        Assert.Equal(6, status.Evaluation!.Samples);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Cancelling_a_run_through_the_api_stops_its_training()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features", "trainer");
        var dataset = await cluster.UploadDatasetAsync("cancel", brokenClip: false);
        var runId = await cluster.SubmitAsync(dataset, EndToEndTests.TinyConfig with { Epochs = 500 });
        await cluster.WaitForAsync(runId, s => s.Training.EpochsCompleted >= 1 || s.Stage.IsTerminal(), "a first epoch");

        using var response = await cluster.RunsApi.PostAsync($"/runs/{runId:D}/cancel", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        var status = await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run to be cancelled");

        Assert.Equal(RunStage.Cancelled, status.Stage);
        // The trainer stops the training (RunCancelled) and drops the run from its work list.
        await Eventually.WaitAsync(async () => await cluster.Blobs.ExistsAsync(BlobLayout.TrainingRequestKey(runId)) ? null : "gone",
            _ => true, TimeSpan.FromSeconds(60), "the training request to be dropped");
        var epochs = (await cluster.States.GetAsync(runId))!.Training.EpochsCompleted;
        Assert.InRange(epochs, 1, 499);
        using var again = await cluster.RunsApi.PostAsync($"/runs/{runId:D}/cancel", null);
        Assert.Equal(System.Net.HttpStatusCode.Conflict, again.StatusCode);
    }

    /// <summary>A blob store whose reads of matching keys never finish (until cancelled): a worker stuck mid-shard.</summary>
    private sealed class HangingBlobStore(IBlobStore inner, string keyFragment, TaskCompletionSource stuck) : DelegatingBlobStore(inner)
    {
        public override async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            await HangOnAsync(key, cancellationToken);
            return await base.OpenReadAsync(key, cancellationToken);
        }

        public override async Task<BlobContent?> TryReadAllAsync(string key, CancellationToken cancellationToken = default)
        {
            await HangOnAsync(key, cancellationToken);
            return await base.TryReadAllAsync(key, cancellationToken);
        }

        private async Task HangOnAsync(string key, CancellationToken cancellationToken)
        {
            if (key.Contains(keyFragment, StringComparison.Ordinal))
            {
                stuck.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        }
    }

    /// <summary>
    /// A blob store whose leases are never released, as when the process holding them dies: another owner gets the key
    /// only once the lease has expired.
    /// </summary>
    private sealed class AbandoningLeaseStore(IBlobStore inner) : DelegatingBlobStore(inner)
    {
        public override async Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default) =>
            new AbandonedLease(await base.AcquireLeaseAsync(key, duration, cancellationToken));

        private sealed class AbandonedLease(IBlobLease lease) : IBlobLease
        {
            public string Key => lease.Key;
            public string LeaseId => lease.LeaseId;
            public TimeSpan Duration => lease.Duration;
            public DateTimeOffset ExpiresAt => lease.ExpiresAt;
            public Task RenewAsync(CancellationToken cancellationToken = default) => lease.RenewAsync(cancellationToken);
            public Task ReleaseAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
