using CremaD.Contracts;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Testing;
using CremaD.Training.Service;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CremaD.Services.Tests;

/// <summary>The trainer's work list, lease and stop rules, on a local-folder store (no training is started).</summary>
public sealed class TrainingRequestPollerTests : TempDirectoryTests
{
    private readonly ServiceProvider _trainer;
    private readonly LocalFolderBlobStore _blobs;

    public TrainingRequestPollerTests()
    {
        _blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        // Never started: these cases must not publish anything.
        _trainer = new ServiceCollection().AddLogging()
            .AddSingleton<IBlobStore>(_blobs)
            .AddSingleton<IBus>(Bus.Factory.CreateUsingInMemory(_ => { }))
            .AddSingleton(new ServiceWorkOptions(Temp.Sub("work")))
            .AddTrainer(new TrainerOptions())
            .BuildServiceProvider();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _trainer.Dispose();
        base.Dispose(disposing);
    }

    private TrainingRequestPoller Poller => _trainer.GetRequiredService<TrainingRequestPoller>();

    private async Task<string> RequestAsync(Guid runId)
    {
        var request = new TrainingRequest(
            new TrainModel(runId, "features/fp/recipe-1/", "features/fp/recipe-1/normalisation.json", new RunConfig(), BlobLayout.RunPrefix(runId)),
            null, DateTimeOffset.UtcNow);
        var key = BlobLayout.TrainingRequestKey(runId);
        await _blobs.WriteJsonAsync(key, request, ServiceJson.Options);
        return key;
    }

    [Fact]
    public async Task A_run_leased_by_another_trainer_is_left_to_it()
    {
        var runId = Guid.NewGuid();
        var key = await RequestAsync(runId);
        await using var otherTrainer = await _blobs.AcquireLeaseAsync(BlobLayout.TrainerLeaseKey(runId), TimeSpan.FromSeconds(30));

        Assert.False(await Poller.TryRunAsync(key, CancellationToken.None));
        Assert.True(await _blobs.ExistsAsync(key));
    }

    [Fact]
    public async Task The_request_of_a_stopped_run_is_dropped_without_training()
    {
        var runId = Guid.NewGuid();
        var key = await RequestAsync(runId);
        await _trainer.GetRequiredService<TrainingStops>().StopAsync(new TrainingStop(runId, "cancelled: test", DateTimeOffset.UtcNow), CancellationToken.None);

        Assert.Equal(0, await Poller.RunPendingAsync(CancellationToken.None));
        Assert.False(await _blobs.ExistsAsync(key));
    }

    [Fact]
    public async Task A_stop_cancels_the_runs_training_in_this_process_and_is_recorded_once()
    {
        var stops = _trainer.GetRequiredService<TrainingStops>();
        var runId = Guid.NewGuid();
        using var training = new CancellationTokenSource();
        using var other = new CancellationTokenSource();
        using (stops.Watch(runId, training))
        using (stops.Watch(Guid.NewGuid(), other))
        {
            await stops.StopAsync(new TrainingStop(runId, "cancelled: first", DateTimeOffset.UtcNow), CancellationToken.None);
            await stops.StopAsync(new TrainingStop(runId, "failed: later", DateTimeOffset.UtcNow), CancellationToken.None);
        }

        Assert.True(training.IsCancellationRequested);
        Assert.False(other.IsCancellationRequested);
        Assert.Equal("cancelled: first", (await stops.FindAsync(runId, CancellationToken.None))!.Reason);
        Assert.Null(await stops.FindAsync(Guid.NewGuid(), CancellationToken.None));
    }
}
