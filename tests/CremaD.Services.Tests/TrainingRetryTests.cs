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
using Microsoft.Extensions.Logging.Abstractions;

namespace CremaD.Services.Tests;

/// <summary>
/// The trainer's worker against storage that fails and trainers that die or freeze: a storage outage, however long, is
/// waited out and the training completes; attempts whose process died are counted in storage, across restarts, and fail
/// the run after the configured number in a row; a trainer frozen past its lease cannot commit over its successor's
/// checkpoint nor publish the run's result. Real training (tiny model) on features of samples/demo clips, a local-folder
/// store (behind failing decorators), MassTransit's in-memory test harness for the bus.
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
        LeaseDuration = TimeSpan.FromSeconds(15),
        MaxCrashedAttempts = 3,
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
        var runId = await RequestAsync(epochs);
        return (NewTrainer(store, "work-" + runId.ToString("N")), runId);
    }

    private async Task<Guid> RequestAsync(int epochs)
    {
        var runId = Guid.NewGuid();
        var config = new RunConfig { Epochs = epochs, BatchSize = 4, HiddenSize = 8, NumLayers = 1, Device = RunDevice.Cpu };
        var command = new TrainModel(runId, _storePrefix, _storePrefix + FeatureStoreFiles.Normalisation, config, BlobLayout.RunPrefix(runId));
        await _blobs.WriteJsonAsync(BlobLayout.TrainingRequestKey(runId), new TrainingRequest(command, null, DateTimeOffset.UtcNow), ServiceJson.Options);
        return runId;
    }

    /// <summary>A trainer (a process of its own, as far as its in-memory state goes) that sees storage through <paramref name="store"/>.</summary>
    private TrainingRequestPoller NewTrainer(IBlobStore store, string work)
    {
        var trainer = new ServiceCollection().AddLogging()
            .AddSingleton(store)
            .AddSingleton(_harness.Bus)
            .AddSingleton(new ServiceWorkOptions(_temp.Sub(work)))
            .AddTrainer(Options)
            .BuildServiceProvider();
        _trainers.Add(trainer);
        return trainer.GetRequiredService<TrainingRequestPoller>();
    }

    /// <summary>Runs worker passes (as the background worker does, minus its poll wait) until the request is gone.</summary>
    private async Task PassUntilRequestGoneAsync(TrainingRequestPoller trainer, Guid runId)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(90);
        while (await _blobs.ExistsAsync(BlobLayout.TrainingRequestKey(runId)))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the request was neither trained nor given up");
            await trainer.RunPendingAsync(CancellationToken.None);
            await Task.Delay(10);
        }
    }

    private ModelCheckpointPointer Pointer(Guid runId) =>
        _blobs.ReadJsonAsync<ModelCheckpointPointer>(BlobLayout.ModelCheckpointKey(BlobLayout.ModelPrefix(runId)), ServiceJson.Options).GetAwaiter().GetResult();

    private List<TrainingCompleted> Completions(Guid runId) =>
        _harness.Published.Select<TrainingCompleted>(m => m.Context.Message.RunId == runId).Select(m => m.Context.Message).ToList();

    [Fact]
    public async Task Transient_storage_errors_are_retried_and_the_training_completes()
    {
        var indexKey = _storePrefix + FeatureStoreFiles.Index;
        var store = new FailingBlobStore(_blobs, indexKey, failures: 2);
        var (trainer, runId) = await RequestTrainingAsync(store);

        await PassUntilRequestGoneAsync(trainer, runId);

        Assert.Equal(3, store.Attempts);
        var completed = Assert.Single(Completions(runId));
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        Assert.Equal(BlobLayout.ModelPrefix(runId) + "g000003/", completed.ModelPrefix);
        Assert.True(await _blobs.ExistsAsync(completed.ModelPrefix + "best_model"));
    }

    [Fact]
    public async Task A_storage_outage_longer_than_any_count_is_waited_out_and_the_run_is_not_failed()
    {
        // The feature store cannot be read for 12 attempts in a row (the trainer used to fail the run after 5), nor can
        // the checkpoint of a later attempt: every attempt ends on the outage, none counts as a death.
        var indexKey = _storePrefix + FeatureStoreFiles.Index;
        var store = new FailingBlobStore(_blobs, indexKey, failures: 12);
        var (trainer, runId) = await RequestTrainingAsync(store, epochs: 3);

        await PassUntilRequestGoneAsync(trainer, runId);

        Assert.Equal(13, store.Attempts);
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        var completed = Assert.Single(Completions(runId));
        Assert.Equal(3, completed.EpochsRun);
        var attempts = await _blobs.ReadJsonAsync<TrainingAttemptsRecord>(BlobLayout.TrainingAttemptsKey(runId), ServiceJson.Options);
        Assert.Equal(0, attempts.Deaths);
        Assert.Equal("done", attempts.Last!.Outcome);
    }

    [Fact]
    public void The_retry_delay_doubles_per_failure_up_to_its_cap_and_never_overflows()
    {
        var ledger = new TrainingFailureLedger(Options, NullLogger<TrainingFailureLedger>.Instance);

        Assert.Equal([20, 40, 80, 100, 100], new[] { 1, 2, 3, 4, 5 }.Select(n => ledger.RetryDelay(n).TotalMilliseconds));
        Assert.Equal(Options.MaxRetryDelay, ledger.RetryDelay(int.MaxValue));
    }

    [Fact]
    public async Task Progress_resets_the_count_an_error_after_each_epoch_does_not_fail_the_run()
    {
        // Reading the run's stop record, before training and after every epoch, fails once per attempt: each attempt
        // finishes one epoch (checkpoint committed) before failing, so the run moves and is resumed from the committed
        // checkpoint each time, never failed.
        var store = new FailingBlobStore(_blobs, BlobLayout.TrainingStopsPrefix, failures: int.MaxValue, failEveryOther: true);
        var (trainer, runId) = await RequestTrainingAsync(store, epochs: 4);

        await PassUntilRequestGoneAsync(trainer, runId);

        // One failure before the first epoch, one after each of epochs 1-3 (after the 4th, the last, nothing is read).
        Assert.Equal(4, store.Failures);
        var completed = Assert.Single(Completions(runId));
        Assert.Equal(4, completed.EpochsRun);
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        // The other attempts' generation folders are gone once the training is done; the committed one holds the model.
        var left = new List<string>();
        await foreach (var blob in _blobs.ListAsync(BlobLayout.ModelPrefix(runId))) left.Add(blob.Key);
        Assert.All(left, key => Assert.True(key == BlobLayout.ModelCheckpointKey(BlobLayout.ModelPrefix(runId))
                                            || key.StartsWith(completed.ModelPrefix, StringComparison.Ordinal), key));
        Assert.Equal(completed, Pointer(runId).Completed);
    }

    [Fact]
    public async Task A_trainer_that_dies_in_every_attempt_fails_the_run_after_the_configured_deaths_naming_the_step()
    {
        var runId = await RequestAsync(epochs: 2);
        // Three trainer processes in turn start an attempt on the run and die in it (the attempt is never ended); each
        // is a new TrainingAttempts, with nothing in memory from the others.
        for (var death = 1; death <= Options.MaxCrashedAttempts; death++)
        {
            var (attempt, diedTooOften) = await NewAttempts().StartAsync(runId, CancellationToken.None);
            Assert.Null(diedTooOften);
            await attempt!.RecordStepAsync($"training epoch 1 (process {death})", CancellationToken.None);
        }
        var trainer = NewTrainer(_blobs, "work-" + runId.ToString("N"));

        Assert.False(await trainer.TryRunAsync(BlobLayout.TrainingRequestKey(runId), CancellationToken.None));

        Assert.False(await _blobs.ExistsAsync(BlobLayout.TrainingRequestKey(runId)));
        var failed = _harness.Published.Select<RunFailed>(m => m.Context.Message.RunId == runId).Single().Context.Message;
        Assert.Equal(RunStage.Training, failed.Stage);
        Assert.Contains($"died {Options.MaxCrashedAttempts} times during this run's training", failed.Reason);
        Assert.Contains($"the last one died while training epoch 1 (process {Options.MaxCrashedAttempts})", failed.Reason);
        Assert.Empty(Completions(runId));
        // Nothing was trained: the model folder was never taken over.
        Assert.False(await _blobs.ExistsAsync(BlobLayout.ModelCheckpointKey(BlobLayout.ModelPrefix(runId))));
    }

    [Fact]
    public async Task Deaths_with_an_epoch_stored_in_between_do_not_fail_the_run()
    {
        var runId = await RequestAsync(epochs: 2);
        // Four attempts die, but the third stored an epoch before it died: never three deaths in a row without progress.
        for (var death = 1; death <= 4; death++)
        {
            var (attempt, diedTooOften) = await NewAttempts().StartAsync(runId, CancellationToken.None);
            Assert.Null(diedTooOften);
            if (death == 3) await attempt!.RecordProgressAsync("training epoch 2 (epoch 1 stored)", CancellationToken.None);
        }
        Assert.Equal(1, (await _blobs.ReadJsonAsync<TrainingAttemptsRecord>(BlobLayout.TrainingAttemptsKey(runId), ServiceJson.Options)).Deaths);
        var trainer = NewTrainer(_blobs, "work-" + runId.ToString("N"));

        Assert.True(await trainer.TryRunAsync(BlobLayout.TrainingRequestKey(runId), CancellationToken.None));

        Assert.Single(Completions(runId));
        Assert.False(await _harness.Published.Any<RunFailed>(m => m.Context.Message.RunId == runId));
        var attempts = await _blobs.ReadJsonAsync<TrainingAttemptsRecord>(BlobLayout.TrainingAttemptsKey(runId), ServiceJson.Options);
        Assert.Equal((0, "done"), (attempts.Deaths, attempts.Last!.Outcome));
    }

    [Fact]
    public async Task A_trainer_frozen_past_its_lease_cannot_commit_over_its_successor_nor_publish_the_result()
    {
        var runId = await RequestAsync(epochs: 4);
        var requestKey = BlobLayout.TrainingRequestKey(runId);
        // Trainer A freezes while it uploads epoch 2's checkpoint (epoch 1's is committed), its lease renewals with it.
        var frozenStore = new FreezingBlobStore(_blobs, "/" + CremaD.Learning.ModelFiles.Checkpoint, freezeAt: 2);
        var trainerA = NewTrainer(frozenStore, "work-a");
        var trainingA = Task.Run(() => trainerA.TryRunAsync(requestKey, CancellationToken.None));
        await frozenStore.Frozen.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var generationA = BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(runId), 1);
        Assert.Equal(new ModelCheckpointPointer(1, generationA, 1, null), Pointer(runId));

        // Once A's lease has expired, trainer B takes the run, resumes from A's committed epoch 1 and completes it.
        await PassUntilRequestGoneAsync(NewTrainer(_blobs, "work-b"), runId);
        var completed = Assert.Single(Completions(runId));
        var generationB = BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(runId), 2);
        Assert.Equal(generationB, completed.ModelPrefix);
        var modelB = await ReadFolderAsync(generationB);

        // A wakes up: its upload goes on into its own folder, and its commit is refused. (Its renewal stays stuck, so
        // what stops it here is the fence alone.)
        frozenStore.Thaw();
        Assert.False(await trainingA.WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Single(Completions(runId));
        Assert.Equal(new ModelCheckpointPointer(2, generationB, 4, completed), Pointer(runId));
        Assert.Equal(modelB, await ReadFolderAsync(generationB));
        Assert.Contains(CremaD.Learning.ModelFiles.Checkpoint, modelB.Keys);
        // A removed what it wrote after it was fenced out: no pointer names its folder any more.
        Assert.Empty(await ReadFolderAsync(generationA));
    }

    private TrainingAttempts NewAttempts() => new(_blobs, Options, NullLogger<TrainingAttempts>.Instance);

    /// <summary>The files under a folder, by name, with their content.</summary>
    private async Task<Dictionary<string, string>> ReadFolderAsync(string prefix)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var blob in _blobs.ListAsync(prefix)) files[blob.Key[prefix.Length..]] = Convert.ToBase64String(await _blobs.ReadBytesAsync(blob.Key));
        return files;
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

    /// <summary>
    /// A trainer process that freezes (SIGSTOP, a long GC pause) during its <paramref name="freezeAt"/>-th upload of a key
    /// containing <paramref name="keyFragment"/>: that upload waits for <see cref="Thaw"/>, and from the freeze on, its
    /// lease renewals hang until they are cancelled, so the lease expires and another trainer may take the run.
    /// </summary>
    private sealed class FreezingBlobStore(IBlobStore inner, string keyFragment, int freezeAt) : DelegatingBlobStore(inner)
    {
        private readonly TaskCompletionSource _thawed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _uploads;

        public TaskCompletionSource Frozen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Thaw() => _thawed.TrySetResult();

        public override async Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default)
        {
            if (key.Contains(keyFragment, StringComparison.Ordinal) && Interlocked.Increment(ref _uploads) == freezeAt)
            {
                Frozen.TrySetResult();
                await _thawed.Task;
            }
            await base.UploadFileAsync(key, path, cancellationToken);
        }

        public override async Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default) =>
            new FreezingLease(await base.AcquireLeaseAsync(key, duration, cancellationToken), Frozen.Task);

        private sealed class FreezingLease(IBlobLease lease, Task frozen) : IBlobLease
        {
            public string Key => lease.Key;
            public string LeaseId => lease.LeaseId;
            public TimeSpan Duration => lease.Duration;
            public DateTimeOffset ExpiresAt => lease.ExpiresAt;

            public async Task RenewAsync(CancellationToken cancellationToken = default)
            {
                if (frozen.IsCompleted) await Task.Delay(Timeout.Infinite, cancellationToken);
                await lease.RenewAsync(cancellationToken);
            }

            public Task ReleaseAsync(CancellationToken cancellationToken = default) => lease.ReleaseAsync(cancellationToken);
            public ValueTask DisposeAsync() => lease.DisposeAsync();
        }
    }
}
