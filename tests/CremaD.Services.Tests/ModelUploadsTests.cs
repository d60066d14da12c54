using System.Collections.Concurrent;
using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Testing;
using CremaD.Training.Service;

namespace CremaD.Services.Tests;

/// <summary>
/// The trainer's per-epoch uploads, which overlap the next epoch: each epoch's changed files are stored in the trainer's
/// own generation folder as they were at the end of that epoch (even if training rewrites them meanwhile), the checkpoint
/// last, unchanged files once, then committed as the run's checkpoint; an upload's failure, or the run taken over by
/// another trainer, surfaces at the next epoch. A real local-folder store behind a recording decorator.
/// </summary>
public sealed class ModelUploadsTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly RecordingStore _blobs;
    private readonly string _model;
    private readonly ConcurrentQueue<int> _committed = new();
    private static readonly Guid RunId = Guid.NewGuid();
    private static readonly string ModelPrefix = BlobLayout.ModelPrefix(RunId);

    public ModelUploadsTests()
    {
        _blobs = new RecordingStore(new LocalFolderBlobStore(_temp.Sub("blobs")));
        _model = _temp.Sub("model");
    }

    public void Dispose() => _temp.Dispose();

    private async Task<(ModelUploads Uploads, CheckpointFence Fence)> StartAsync(TimeSpan interval)
    {
        var fence = await CheckpointFence.TakeOverAsync(_blobs, RunId, ModelPrefix, CancellationToken.None);
        return (new ModelUploads(new ModelUploader(_blobs), fence, _model, interval, (epoch, _) =>
        {
            _committed.Enqueue(epoch);
            return Task.CompletedTask;
        }), fence);
    }

    private async Task<ModelCheckpointPointer> PointerAsync() =>
        await _blobs.ReadJsonAsync<ModelCheckpointPointer>(BlobLayout.ModelCheckpointKey(ModelPrefix), ServiceJson.Options);

    [Fact]
    public async Task Each_epoch_stores_its_own_files_the_checkpoint_last_and_unchanged_files_once_then_commits_it()
    {
        var (uploads, fence) = await StartAsync(TimeSpan.Zero);
        var prefix = fence.GenerationPrefix;
        await using (uploads)
        {
            Write(ModelFiles.BestModel, "best after epoch 1");
            Write(ModelFiles.Checkpoint, "checkpoint 1");
            Write("history.json", "[1]");
            _blobs.Gate.Reset(); // epoch 1's upload waits until the next epoch has rewritten the files
            uploads.QueueEpoch(1, CancellationToken.None);
            Write(ModelFiles.Checkpoint, "checkpoint 2 (longer)");
            Write("history.json", "[1,2]");
            Assert.Null((await PointerAsync()).Prefix); // not committed before it is stored
            _blobs.Gate.Set();
            uploads.QueueEpoch(2, CancellationToken.None); // waits for epoch 1's upload, starts epoch 2's
            await uploads.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal(BlobLayout.ModelPrefix(RunId) + "g000001/", prefix);
        Assert.Equal("best after epoch 1", await _blobs.ReadTextAsync(prefix + ModelFiles.BestModel));
        Assert.Equal("checkpoint 2 (longer)", await _blobs.ReadTextAsync(prefix + ModelFiles.Checkpoint));
        Assert.Equal("[1,2]", await _blobs.ReadTextAsync(prefix + "history.json"));
        var uploads1 = _blobs.Uploads.ToList();
        Assert.Equal(
            [prefix + ModelFiles.BestModel, prefix + "history.json", prefix + ModelFiles.Checkpoint, prefix + "history.json", prefix + ModelFiles.Checkpoint],
            uploads1.Select(upload => upload.Key));
        Assert.Equal("checkpoint 1", uploads1[2].Content);
        Assert.False(Directory.Exists(_model + ".uploading"));
        Assert.Equal([1, 2], _committed);
        Assert.Equal(new ModelCheckpointPointer(1, prefix, 2, null), await PointerAsync());
    }

    [Fact]
    public async Task A_failed_upload_surfaces_at_the_next_epoch_naming_the_blob_and_is_not_committed()
    {
        var (uploads, fence) = await StartAsync(TimeSpan.Zero);
        await using var disposing = uploads;
        Write(ModelFiles.Checkpoint, "checkpoint 1");
        _blobs.FailUploads = true;
        uploads.QueueEpoch(1, CancellationToken.None);

        Write(ModelFiles.Checkpoint, "checkpoint 2");
        var failure = Assert.Throws<TrainingStepException>(() => uploads.QueueEpoch(2, CancellationToken.None));
        Assert.Contains(fence.GenerationPrefix + ModelFiles.Checkpoint, failure.Message);
        Assert.Empty(_committed);
        Assert.Null((await PointerAsync()).Prefix);
    }

    [Fact]
    public async Task A_run_taken_over_by_another_trainer_surfaces_at_the_next_epoch_and_its_checkpoint_stays()
    {
        var (uploads, _) = await StartAsync(TimeSpan.Zero);
        await using var disposing = uploads;
        Write(ModelFiles.Checkpoint, "checkpoint 1");
        uploads.QueueEpoch(1, CancellationToken.None);
        Write(ModelFiles.Checkpoint, "checkpoint 2");
        // Epoch 1's upload must be past the gate before it closes, or QueueEpoch(2), which waits for it, would wait for ever.
        Assert.True(SpinWait.SpinUntil(() => _blobs.Uploads.Any(u => u.Content == "checkpoint 1"), TimeSpan.FromSeconds(30)),
            "epoch 1's checkpoint was not uploaded");
        _blobs.Gate.Reset();
        uploads.QueueEpoch(2, CancellationToken.None); // waits for epoch 1's commit; epoch 2's upload is held back

        var successor = await CheckpointFence.TakeOverAsync(_blobs, RunId, ModelPrefix, CancellationToken.None);
        _blobs.Gate.Set();

        var fenced = Assert.Throws<TrainingFencedException>(() => uploads.QueueEpoch(3, CancellationToken.None));
        Assert.Equal(1, fenced.Generation);
        Assert.Equal([1], _committed);
        Assert.Equal(new ModelCheckpointPointer(2, successor.Committed.Prefix, 1, null), await PointerAsync());
    }

    [Fact]
    public async Task Epochs_within_the_interval_are_not_uploaded_and_the_end_stores_their_changes()
    {
        var (uploads, _) = await StartAsync(TimeSpan.FromHours(1));
        await using (uploads)
        {
            Write(ModelFiles.Checkpoint, "checkpoint 1");
            uploads.QueueEpoch(1, CancellationToken.None); // the first epoch is always stored
            Write(ModelFiles.Checkpoint, "checkpoint 2 (longer)");
            uploads.QueueEpoch(2, CancellationToken.None);
            Write(ModelFiles.Checkpoint, "checkpoint 3 (longer still)");
            uploads.QueueEpoch(3, CancellationToken.None);
            await uploads.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal(["checkpoint 1", "checkpoint 3 (longer still)"], _blobs.Uploads.Select(upload => upload.Content));
        Assert.Equal([1], _committed);
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_model, name), text);

    /// <summary>Records every file upload with the content it stored; <see cref="Gate"/> holds uploads back while reset.</summary>
    private sealed class RecordingStore(IBlobStore inner) : DelegatingBlobStore(inner)
    {
        public ManualResetEventSlim Gate { get; } = new(true);
        public ConcurrentQueue<(string Key, string Content)> Uploads { get; } = new();
        public bool FailUploads { get; set; }

        public override async Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default)
        {
            // Bounded: a test that forgets to open the gate fails instead of hanging the run.
            if (!await Task.Run(() => Gate.Wait(TimeSpan.FromMinutes(2), cancellationToken), cancellationToken))
            {
                throw new TimeoutException($"The upload of '{key}' waited 2 minutes at the test's gate.");
            }
            if (FailUploads) throw new IOException("storage unavailable");
            Uploads.Enqueue((key, await File.ReadAllTextAsync(path, cancellationToken)));
            await base.UploadFileAsync(key, path, cancellationToken);
        }
    }
}
