using CremaD.Contracts;

namespace CremaD.Training.Service;

/// <summary>
/// The uploads of one training's model directory into its owner generation's folder
/// (<see cref="CheckpointFence.GenerationPrefix"/>), each epoch's committed when stored. After an epoch
/// (<see cref="QueueEpoch"/>, on the training thread) the files that changed since they were last stored are copied to
/// a snapshot folder and uploaded from there in the background while the next epoch trains: the training does not wait
/// on storage, and the snapshot keeps the stored files one epoch's consistent set (the checkpoint last) while training
/// rewrites the originals. Once stored, the epoch's checkpoint is committed (<see cref="CheckpointFence.CommitAsync"/>,
/// refused once another trainer has taken the run) and <paramref name="committed"/> told. At most one upload is in
/// flight; the next epoch's queueing waits for it and rethrows its failure, so a storage fault still ends the attempt
/// (which resumes from the last checkpoint committed: at most one epoch earlier, and resume is exact), and so does being
/// fenced out. Unchanged files (the best model, when the epoch did not improve it) are not uploaded again, and an epoch
/// that ends within <paramref name="interval"/> of the last upload's start is not uploaded at all (the next one, or
/// <see cref="CompleteAsync"/>, carries its changes).
/// </summary>
public sealed class ModelUploads(ModelUploader uploader, CheckpointFence fence, string modelDirectory, TimeSpan interval,
    Func<int, CancellationToken, Task> committed) : IAsyncDisposable
{
    private readonly System.Diagnostics.Stopwatch _sinceLastUpload = new();
    private readonly string _snapshot = modelDirectory.TrimEnd(Path.DirectorySeparatorChar) + ".uploading";
    // What is stored, by file name: the stamp (length, last write) the file had when it was copied for upload.
    private readonly Dictionary<string, (long Length, DateTime Written)> _stored = new(StringComparer.Ordinal);
    private Task _pending = Task.CompletedTask;

    /// <summary>
    /// Unless the last upload started less than the interval ago: waits for it, then starts uploading what changed since,
    /// to commit it as the checkpoint of <paramref name="epoch"/>.
    /// </summary>
    /// <exception cref="TrainingStepException">The previous epoch's upload or commit failed.</exception>
    /// <exception cref="TrainingFencedException">Another trainer has taken the run: the previous epoch was not committed.</exception>
    public void QueueEpoch(int epoch, CancellationToken cancellationToken)
    {
        if (_sinceLastUpload.IsRunning && _sinceLastUpload.Elapsed < interval) return;
        _pending.GetAwaiter().GetResult();
        var changed = Changed();
        if (changed.Count == 0) return;
        if (Directory.Exists(_snapshot)) Directory.Delete(_snapshot, recursive: true);
        Directory.CreateDirectory(_snapshot);
        foreach (var (name, _) in changed)
        {
            File.Copy(Path.Combine(modelDirectory, name), Path.Combine(_snapshot, name));
        }
        _sinceLastUpload.Restart();
        _pending = UploadAndCommitAsync(changed, epoch, cancellationToken);
    }

    /// <summary>
    /// Waits for the last epoch's upload, then uploads whatever is not stored yet, from the model directory itself; the
    /// caller commits the result (<see cref="CheckpointFence.CompleteAsync"/>).
    /// </summary>
    /// <exception cref="TrainingStepException">An upload or the last epoch's commit failed.</exception>
    /// <exception cref="TrainingFencedException">Another trainer has taken the run.</exception>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await _pending.ConfigureAwait(false);
        var changed = Changed();
        if (changed.Count > 0) await UploadAsync(modelDirectory, changed, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _pending.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Observed here only when the training ended another way first (stopped, failed): the attempt's outcome stands.
        }
        if (Directory.Exists(_snapshot)) Directory.Delete(_snapshot, recursive: true);
    }

    private async Task UploadAndCommitAsync(List<(string Name, (long, DateTime) Stamp)> files, int epoch, CancellationToken cancellationToken)
    {
        await UploadAsync(_snapshot, files, cancellationToken).ConfigureAwait(false);
        await TrainingStep.RunAsync($"committing the checkpoint of epoch {epoch} in '{BlobLayout.ModelCheckpointKey(fence.ModelPrefix)}'",
            () => fence.CommitAsync(epoch, cancellationToken), cancellationToken).ConfigureAwait(false);
        await committed(epoch, cancellationToken).ConfigureAwait(false);
    }

    private async Task UploadAsync(string source, List<(string Name, (long, DateTime) Stamp)> files, CancellationToken cancellationToken)
    {
        await uploader.UploadAsync(fence.RunId, source, files.Select(file => file.Name), fence.GenerationPrefix, cancellationToken).ConfigureAwait(false);
        foreach (var (name, stamp) in files) _stored[name] = stamp;
    }

    private List<(string Name, (long, DateTime) Stamp)> Changed() =>
        new DirectoryInfo(modelDirectory).GetFiles()
            .Select(file => (file.Name, Stamp: (file.Length, file.LastWriteTimeUtc)))
            .Where(file => !_stored.TryGetValue(file.Name, out var stored) || stored != file.Stamp)
            .ToList();
}
