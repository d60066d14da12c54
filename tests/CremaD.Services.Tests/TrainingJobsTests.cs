using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Training.Service;
using MassTransit;
using Microsoft.Extensions.Logging.Abstractions;

namespace CremaD.Services.Tests;

/// <summary>The trainer's work list and lease rules, on a local-folder store (no training is started).</summary>
public sealed class TrainingJobsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private (LocalFolderBlobStore Blobs, RunStateStore States, TrainingJobs Jobs) Create()
    {
        var blobs = new LocalFolderBlobStore(_temp.Sub("blobs"));
        var states = new RunStateStore(blobs);
        // Never started: these cases must not publish anything.
        var bus = Bus.Factory.CreateUsingInMemory(_ => { });
        var jobs = new TrainingJobs(blobs, states, bus, new ServiceWorkOptions(_temp.Sub("work")), new TrainerOptions(),
            NullLogger<TrainingJobs>.Instance);
        return (blobs, states, jobs);
    }

    private static TrainingRequest Request(Guid runId) => new(
        new TrainModel(runId, "features/fp/recipe-1/", "features/fp/recipe-1/normalisation.json", new RunConfig(), BlobLayout.RunPrefix(runId)),
        null, DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_run_leased_by_another_trainer_is_left_to_it()
    {
        var (blobs, states, jobs) = Create();
        var runId = Guid.NewGuid();
        var submit = new SubmitRun(runId, new DatasetRef("datasets/x/"), new RunConfig(), DateTimeOffset.UtcNow);
        await states.UpdateAsync(runId, _ => RunStateStore.Pending(submit));
        var key = BlobLayout.TrainingRequestKey(runId);
        await blobs.WriteJsonAsync(key, Request(runId), ServiceJson.Options);
        await using var otherTrainer = await blobs.AcquireLeaseAsync(BlobLayout.TrainerLeaseKey(runId), TimeSpan.FromSeconds(30));

        Assert.False(await jobs.TryRunAsync(key, CancellationToken.None));
        Assert.True(await blobs.ExistsAsync(key));
    }

    [Fact]
    public async Task The_request_of_a_finished_run_is_dropped_without_training()
    {
        var (blobs, states, jobs) = Create();
        var runId = Guid.NewGuid();
        var submit = new SubmitRun(runId, new DatasetRef("datasets/x/"), new RunConfig(), DateTimeOffset.UtcNow);
        await states.UpdateAsync(runId, _ => RunStateStore.Pending(submit).Apply(
            new RunCancelled(runId, RunStage.Training, "test", DateTimeOffset.UtcNow)));
        await blobs.WriteJsonAsync(BlobLayout.TrainingRequestKey(runId), Request(runId), ServiceJson.Options);

        Assert.Equal(0, await jobs.RunPendingAsync(CancellationToken.None));
        Assert.False(await blobs.ExistsAsync(BlobLayout.TrainingRequestKey(runId)));
    }
}
