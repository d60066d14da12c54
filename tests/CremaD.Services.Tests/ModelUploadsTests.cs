using System.Collections.Concurrent;
using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Testing;
using CremaD.Training.Service;

namespace CremaD.Services.Tests;

/// <summary>
/// The trainer's per-epoch uploads, which overlap the next epoch: each epoch's changed files are stored as they were
/// at the end of that epoch (even if training rewrites them meanwhile), the checkpoint last, unchanged files once, and
/// an upload's failure surfaces at the next epoch. A real local-folder store behind a recording decorator.
/// </summary>
public sealed class ModelUploadsTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly RecordingStore _blobs;
    private readonly string _model;
    private const string Prefix = "runs/r/model/";

    public ModelUploadsTests()
    {
        _blobs = new RecordingStore(new LocalFolderBlobStore(_temp.Sub("blobs")));
        _model = _temp.Sub("model");
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Each_epoch_stores_its_own_files_the_checkpoint_last_and_unchanged_files_once()
    {
        await using (var uploads = new ModelUploads(new ModelUploader(_blobs), Guid.NewGuid(), _model, Prefix, TimeSpan.Zero))
        {
            Write(ModelFiles.BestModel, "best after epoch 1");
            Write(ModelFiles.Checkpoint, "checkpoint 1");
            Write("history.json", "[1]");
            _blobs.Gate.Reset(); // epoch 1's upload waits until the next epoch has rewritten the files
            uploads.QueueEpoch(CancellationToken.None);
            Write(ModelFiles.Checkpoint, "checkpoint 2 (longer)");
            Write("history.json", "[1,2]");
            _blobs.Gate.Set();
            uploads.QueueEpoch(CancellationToken.None); // waits for epoch 1's upload, starts epoch 2's
            await uploads.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal("best after epoch 1", await _blobs.ReadTextAsync(Prefix + ModelFiles.BestModel));
        Assert.Equal("checkpoint 2 (longer)", await _blobs.ReadTextAsync(Prefix + ModelFiles.Checkpoint));
        Assert.Equal("[1,2]", await _blobs.ReadTextAsync(Prefix + "history.json"));
        var uploads1 = _blobs.Uploads.ToList();
        Assert.Equal(
            [Prefix + ModelFiles.BestModel, Prefix + "history.json", Prefix + ModelFiles.Checkpoint, Prefix + "history.json", Prefix + ModelFiles.Checkpoint],
            uploads1.Select(upload => upload.Key));
        Assert.Equal("checkpoint 1", uploads1[2].Content);
        Assert.False(Directory.Exists(_model + ".uploading"));
    }

    [Fact]
    public async Task A_failed_upload_surfaces_at_the_next_epoch_naming_the_blob()
    {
        await using var uploads = new ModelUploads(new ModelUploader(_blobs), Guid.NewGuid(), _model, Prefix, TimeSpan.Zero);
        Write(ModelFiles.Checkpoint, "checkpoint 1");
        _blobs.FailUploads = true;
        uploads.QueueEpoch(CancellationToken.None);

        Write(ModelFiles.Checkpoint, "checkpoint 2");
        var failure = Assert.Throws<TrainingStepException>(() => uploads.QueueEpoch(CancellationToken.None));
        Assert.Contains(Prefix + ModelFiles.Checkpoint, failure.Message);
    }

    [Fact]
    public async Task Epochs_within_the_interval_are_not_uploaded_and_the_end_stores_their_changes()
    {
        await using (var uploads = new ModelUploads(new ModelUploader(_blobs), Guid.NewGuid(), _model, Prefix, TimeSpan.FromHours(1)))
        {
            Write(ModelFiles.Checkpoint, "checkpoint 1");
            uploads.QueueEpoch(CancellationToken.None); // the first epoch is always stored
            Write(ModelFiles.Checkpoint, "checkpoint 2 (longer)");
            uploads.QueueEpoch(CancellationToken.None);
            Write(ModelFiles.Checkpoint, "checkpoint 3 (longer still)");
            uploads.QueueEpoch(CancellationToken.None);
            await uploads.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal(["checkpoint 1", "checkpoint 3 (longer still)"], _blobs.Uploads.Select(upload => upload.Content));
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
            await Task.Run(() => Gate.Wait(cancellationToken), cancellationToken);
            if (FailUploads) throw new IOException("storage unavailable");
            Uploads.Enqueue((key, await File.ReadAllTextAsync(path, cancellationToken)));
            await base.UploadFileAsync(key, path, cancellationToken);
        }
    }
}
