using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Testing;
using CremaD.Training.Service;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CremaD.Services.Tests;

/// <summary>
/// The trainer's worker against storage that fails: transient errors are retried until the training succeeds, a
/// persistent one fails the run after the configured number of attempts with a reason naming the blob. Real training
/// (tiny model) on features of samples/demo clips, a local-folder store behind a failing decorator, MassTransit's
/// in-memory test harness for the bus.
/// </summary>
/// <remarks>
/// In the collection of the tests that train through services: LibTorch's thread settings are partly process-wide, so
/// two trainings at once in one test process may round differently, and the resilience tests compare a resumed training
/// with an uninterrupted one bit for bit (seen failing when this class ran beside them).
/// </remarks>
[Collection(InfrastructureCollection.Name)]
public sealed class TrainingRetryTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private readonly List<ServiceProvider> _trainers = [];
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private LocalFolderBlobStore _blobs = null!;
    private string _storePrefix = null!;

    private static readonly TrainerOptions Options = new()
    {
        Threads = 1,
        CheckpointInterval = TimeSpan.Zero,
        MaxConsecutiveFailures = 3,
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(100),
    };

    public async Task InitializeAsync()
    {
        _blobs = new LocalFolderBlobStore(_temp.Sub("blobs"));
        _storePrefix = await UploadFeatureStoreAsync(_blobs, _temp.Sub("local"));
        _provider = new ServiceCollection().AddMassTransitTestHarness(_ => { }).BuildServiceProvider(validateScopes: true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.TestTimeout = TimeSpan.FromSeconds(30);
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        foreach (var trainer in _trainers) await trainer.DisposeAsync();
        await _harness.Stop();
        await _provider.DisposeAsync();
        _temp.Dispose();
    }

    /// <summary>
    /// A completed feature store in the blob form the coordinator writes (the local store's files, parts.json naming
    /// the part blobs), made by the local feature stage from a few demo clips.
    /// </summary>
    private static async Task<string> UploadFeatureStoreAsync(IBlobStore blobs, string scratch)
    {
        var data = Path.Combine(scratch, "data");
        TestDatasets.WriteDemoSubset(data, train: 6, validation: 3, test: 3);
        var dataset = DatasetReader.Open(data, new DatasetOptions());
        var local = Path.Combine(scratch, "store");
        await FeatureStage.RunAsync(dataset, local, new FeatureStageOptions { NumWorkers = 1 });
        const string prefix = "features/retrytest/recipe-1/";
        await blobs.UploadDirectoryAsync(local, prefix);
        var parts = Directory.GetFiles(Path.Combine(local, FeatureStoreFiles.FeaturesFolder))
            .Select(path => FeatureStoreFiles.FeaturesFolder + "/" + Path.GetFileName(path))
            .ToDictionary(part => part, part => prefix + part);
        await blobs.WriteJsonAsync(BlobLayout.FeatureStorePartsKey(prefix), new FeatureStoreParts(parts.Count, parts), ServiceJson.Options);
        return prefix;
    }

    /// <summary>Puts a training request for a new run in the work list; the trainer sees storage through <paramref name="store"/>.</summary>
    private async Task<(TrainingRequestPoller Trainer, Guid RunId)> RequestTrainingAsync(IBlobStore store, int epochs = 2)
    {
        var runId = Guid.NewGuid();
        var config = new RunConfig { Epochs = epochs, BatchSize = 4, HiddenSize = 8, NumLayers = 1, Device = RunDevice.Cpu };
        var command = new TrainModel(runId, _storePrefix, _storePrefix + FeatureStoreFiles.Normalisation, config, BlobLayout.RunPrefix(runId));
        await _blobs.WriteJsonAsync(BlobLayout.TrainingRequestKey(runId), new TrainingRequest(command, null, DateTimeOffset.UtcNow), ServiceJson.Options);
        var trainer = new ServiceCollection().AddLogging()
            .AddSingleton(store)
            .AddSingleton(_harness.Bus)
            .AddSingleton(new ServiceWorkOptions(_temp.Sub("work-" + runId.ToString("N"))))
            .AddTrainer(Options)
            .BuildServiceProvider();
        _trainers.Add(trainer);
        return (trainer.GetRequiredService<TrainingRequestPoller>(), runId);
    }

    /// <summary>Runs worker passes (as the background worker does, minus its poll wait) until the request is gone.</summary>
    private async Task<int> PassUntilRequestGoneAsync(TrainingRequestPoller trainer, Guid runId)
    {
        var passes = 0;
        while (await _blobs.ExistsAsync(BlobLayout.TrainingRequestKey(runId)))
        {
            Assert.True(++passes < 200, "the request was neither trained nor given up");
            await trainer.RunPendingAsync(CancellationToken.None);
            await Task.Delay(10);
        }
        return passes;
    }

    [Fact]
    public async Task Transient_storage_errors_are_retried_and_the_training_completes()
    {
        var indexKey = _storePrefix + FeatureStoreFiles.Index;
        var store = new FailingBlobStore(_blobs, indexKey, failures: Options.MaxConsecutiveFailures - 1);
        var (trainer, runId) = await RequestTrainingAsync(store);

        await PassUntilRequestGoneAsync(trainer, runId);

        Assert.Equal(Options.MaxConsecutiveFailures, store.Attempts);
        Assert.True(await _harness.Published.Any<TrainingCompleted>(m => m.Context.Message.RunId == runId));
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        Assert.True(await _blobs.ExistsAsync(BlobLayout.RunPrefix(runId) + "model/best_model"));
    }

    [Fact]
    public async Task A_persistent_storage_error_fails_the_run_after_the_configured_attempts_naming_the_blob()
    {
        var indexKey = _storePrefix + FeatureStoreFiles.Index;
        var store = new FailingBlobStore(_blobs, indexKey, failures: int.MaxValue);
        var (trainer, runId) = await RequestTrainingAsync(store);

        await PassUntilRequestGoneAsync(trainer, runId);
        // More passes after giving up touch the blob no more.
        await trainer.RunPendingAsync(CancellationToken.None);

        Assert.Equal(Options.MaxConsecutiveFailures, store.Attempts);
        Assert.True(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        var failed = _harness.Published.Select<RunFailed>(m => m.Context.Message.RunId == runId).Single().Context.Message;
        Assert.Equal(RunStage.Training, failed.Stage);
        Assert.Contains($"after {Options.MaxConsecutiveFailures} consecutive failed attempts", failed.Reason);
        Assert.Contains($"staging the feature store '{_storePrefix}'", failed.Reason);
        Assert.Contains($"'{indexKey}'", failed.Reason);
        Assert.Contains("simulated storage outage", failed.Reason);
        Assert.False(await _harness.Published.Any<TrainingCompleted>(m => m.Context.Message.RunId == runId));
    }

    [Fact]
    public async Task Progress_resets_the_count_an_error_after_each_epoch_does_not_fail_the_run()
    {
        // Reading the run's stop record, before training and after every epoch, fails once per attempt: each attempt
        // finishes one epoch (checkpoint stored) before failing, so the run moves and is resumed, never failed, although
        // it fails more often than the limit.
        var store = new FailingBlobStore(_blobs, BlobLayout.TrainingStopsPrefix, failures: int.MaxValue, failEveryOther: true);
        var (trainer, runId) = await RequestTrainingAsync(store, epochs: 4);

        await PassUntilRequestGoneAsync(trainer, runId);

        // One failure before the first epoch, one after each of epochs 1-3 (after the 4th, the last, nothing is read).
        Assert.Equal(4, store.Failures);
        Assert.True(store.Failures > Options.MaxConsecutiveFailures);
        Assert.True(await _harness.Published.Any<TrainingCompleted>(m => m.Context.Message.RunId == runId));
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
    }

    /// <summary>
    /// Reads and downloads of keys containing <paramref name="keyFragment"/> fail with an I/O error the first
    /// <paramref name="failures"/> times (with <paramref name="failEveryOther"/>: fail, succeed, fail, succeed, ...).
    /// </summary>
    private sealed class FailingBlobStore(IBlobStore inner, string keyFragment, int failures, bool failEveryOther = false) : DelegatingBlobStore(inner)
    {
        private int _attempts;
        private int _failures;

        public int Attempts => Volatile.Read(ref _attempts);

        public int Failures => Volatile.Read(ref _failures);

        public override Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            Check(key);
            return base.OpenReadAsync(key, cancellationToken);
        }

        public override Task DownloadToFileAsync(string key, string path, CancellationToken cancellationToken = default)
        {
            Check(key);
            return base.DownloadToFileAsync(key, path, cancellationToken);
        }

        private void Check(string key)
        {
            if (!key.Contains(keyFragment, StringComparison.Ordinal)) return;
            var attempt = Interlocked.Increment(ref _attempts);
            if (failEveryOther ? attempt % 2 == 1 : attempt <= failures)
            {
                Interlocked.Increment(ref _failures);
                throw new IOException($"simulated storage outage reading '{key}' (attempt {attempt})");
            }
        }
    }
}
