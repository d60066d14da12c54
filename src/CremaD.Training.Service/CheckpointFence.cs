using CremaD.Contracts;
using CremaD.Storage;

namespace CremaD.Training.Service;

/// <summary>
/// The content of a run's <see cref="BlobLayout.ModelCheckpointKey"/>: which owner generation trains the run, which
/// checkpoint is committed, and the result once the training is done.
/// </summary>
/// <param name="Generation">The owner generation that wrote it last: each trainer that takes the run writes the next one.</param>
/// <param name="Prefix">The generation folder (<see cref="BlobLayout.ModelGenerationPrefix"/>) of the committed checkpoint; null before the first.</param>
/// <param name="Epoch">Epochs done in the committed checkpoint (0 before the first).</param>
/// <param name="Completed">The training's result once it is done (its model prefix is <paramref name="Prefix"/>); null until then.</param>
public sealed record ModelCheckpointPointer(long Generation, string? Prefix, int Epoch, TrainingCompleted? Completed);

/// <summary>
/// A trainer's ownership of a run's model, fenced with plain ETags (Azure Blob cannot make a write conditional on a
/// lease held on another blob, and a check of the lease before a write is not atomic with it: a trainer paused between
/// the two, by GC, SIGSTOP or a frozen VM, would write after its lease expired). One small blob,
/// <see cref="BlobLayout.ModelCheckpointKey"/>, is the fence and the pointer:
/// <list type="bullet">
/// <item>Taking the run (<see cref="TakeOverAsync"/>, under the run's lease) rewrites it with the next owner generation,
/// conditionally on the version just read, and keeps the ETag of that write.</item>
/// <item>The owner writes its model files only under its own generation's folder
/// (<see cref="GenerationPrefix"/>, <c>model/g000003/</c>), never under a key another owner writes.</item>
/// <item>It commits a checkpoint (<see cref="CommitAsync"/>) or the finished training (<see cref="CompleteAsync"/>) by
/// rewriting the pointer with <see cref="BlobWriteCondition.IfMatch"/> of its last ETag.</item>
/// </list>
/// A successor's takeover changes the ETag, so every later commit of the previous owner is refused by the store itself
/// (<see cref="TrainingFencedException"/>): the successor's committed checkpoint and its files cannot be overwritten,
/// and a fenced-out trainer cannot record the run as trained. What it still uploads lands in its own folder, which no
/// pointer names after the successor's first commit: the fenced-out trainer removes it then
/// (<see cref="DeleteAbandonedGenerationAsync"/>), and <see cref="DeleteOtherGenerationsAsync"/> removes every other
/// generation's folder once the training is done. Resume reads the pointer and downloads the committed folder.
/// </summary>
/// <remarks>
/// Until a new owner's first commit, its pointer still names the previous owner's folder; the new owner only reads it.
/// A store that retries a write whose answer was lost sees its own write as a condition failure: the trainer then
/// stops as if fenced out, and the next attempt takes the run again and resumes from what is committed.
/// </remarks>
public sealed class CheckpointFence
{
    // Rewrites of the pointer that may lose to another writer in a row before taking over gives up (a step failure,
    // retried): each loss means another trainer wrote meanwhile, which a run sees at most a handful of times.
    private const int MaxTakeOverRaces = 5;

    private readonly IBlobStore _blobs;
    private string _etag;

    private CheckpointFence(IBlobStore blobs, Guid runId, string modelPrefix, ModelCheckpointPointer committed, string etag, bool owner)
    {
        _blobs = blobs;
        RunId = runId;
        ModelPrefix = modelPrefix;
        Committed = committed;
        _etag = etag;
        IsOwner = owner;
    }

    public Guid RunId { get; }

    /// <summary>The run's model prefix, <c>runs/&lt;id&gt;/model/</c>.</summary>
    public string ModelPrefix { get; }

    /// <summary>This trainer's owner generation.</summary>
    public long Generation => Committed.Generation;

    /// <summary>Where this trainer writes its model files: its generation's own folder.</summary>
    public string GenerationPrefix => BlobLayout.ModelGenerationPrefix(ModelPrefix, Generation);

    /// <summary>The pointer as this trainer last wrote (or, when the run was trained already, read) it.</summary>
    public ModelCheckpointPointer Committed { get; private set; }

    /// <summary>False when the run was found trained already (<see cref="ModelCheckpointPointer.Completed"/>): nothing was taken over.</summary>
    public bool IsOwner { get; }

    private string PointerKey => BlobLayout.ModelCheckpointKey(ModelPrefix);

    /// <summary>
    /// Takes the run's model over: writes the pointer with the next owner generation (keeping the committed checkpoint it
    /// names), conditionally on the version read, so that every earlier owner's next commit fails. When the run is
    /// trained already, returns the pointer as it is, without taking anything over.
    /// </summary>
    /// <exception cref="BlobConditionFailedException">Other writers won every one of several tries.</exception>
    public static async Task<CheckpointFence> TakeOverAsync(IBlobStore blobs, Guid runId, string modelPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        var key = BlobLayout.ModelCheckpointKey(modelPrefix);
        for (var race = 1; ; race++)
        {
            var current = await blobs.TryReadAllAsync(key, cancellationToken).ConfigureAwait(false);
            var pointer = current is null ? null : Parse(blobs, key, current);
            if (pointer?.Completed is not null)
            {
                return new CheckpointFence(blobs, runId, modelPrefix, pointer, current!.Info.ETag, owner: false);
            }
            var taken = new ModelCheckpointPointer((pointer?.Generation ?? 0) + 1, pointer?.Prefix, pointer?.Epoch ?? 0, Completed: null);
            try
            {
                var written = await blobs.WriteJsonAsync(key, taken, ServiceJson.Options,
                    current is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(current.Info.ETag), cancellationToken).ConfigureAwait(false);
                return new CheckpointFence(blobs, runId, modelPrefix, taken, written.ETag, owner: true);
            }
            catch (BlobConditionFailedException) when (race < MaxTakeOverRaces)
            {
                // Another trainer wrote the pointer between the read and the write: read it again.
            }
        }
    }

    /// <summary>Commits the checkpoint of <paramref name="epoch"/>, stored under <see cref="GenerationPrefix"/>, as the run's.</summary>
    /// <exception cref="TrainingFencedException">Another trainer has taken the run since this one last wrote the pointer.</exception>
    public Task CommitAsync(int epoch, CancellationToken cancellationToken) =>
        WriteAsync(Committed with { Prefix = GenerationPrefix, Epoch = epoch }, cancellationToken);

    /// <summary>Records the training as done, its model being what is under <see cref="GenerationPrefix"/> (<see cref="TrainingCompleted.ModelPrefix"/>).</summary>
    /// <exception cref="TrainingFencedException">Another trainer has taken the run since this one last wrote the pointer.</exception>
    public Task CompleteAsync(TrainingCompleted completed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(completed);
        if (completed.ModelPrefix != GenerationPrefix)
        {
            throw new ArgumentException($"The model of generation {Generation} is under '{GenerationPrefix}', not '{completed.ModelPrefix}'.", nameof(completed));
        }
        return WriteAsync(Committed with { Prefix = GenerationPrefix, Epoch = completed.EpochsRun, Completed = completed }, cancellationToken);
    }

    /// <summary>
    /// Once the training is done: deletes the model files of every other generation (checkpoints of earlier owners, what a
    /// fenced-out owner uploaded), leaving the pointer and the committed model. Returns how many blobs went.
    /// </summary>
    public async Task<int> DeleteOtherGenerationsAsync(CancellationToken cancellationToken)
    {
        var model = Committed.Completed?.ModelPrefix
                    ?? throw new InvalidOperationException($"Run {RunId:D} is not trained: its other generations' files may still be resumed from.");
        var stale = new List<string>();
        await foreach (var blob in _blobs.ListAsync(ModelPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (blob.Key != PointerKey && !blob.Key.StartsWith(model, StringComparison.Ordinal)) stale.Add(blob.Key);
        }
        foreach (var key in stale) await _blobs.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        return stale.Count;
    }

    /// <summary>
    /// Once fenced out: deletes what this trainer wrote to its generation's folder if the pointer no longer names that
    /// folder (a successor has committed its own; the pointer never names an older generation's folder again, so nobody
    /// will read it). Left as it is while the pointer still names it: the successor resumes from it, and removes it when
    /// the training is done. Returns how many blobs went.
    /// </summary>
    public async Task<int> DeleteAbandonedGenerationAsync(CancellationToken cancellationToken)
    {
        var current = await _blobs.TryReadAllAsync(PointerKey, cancellationToken).ConfigureAwait(false);
        if (current is null) return 0;
        var pointer = Parse(_blobs, PointerKey, current);
        if (pointer.Generation <= Generation || pointer.Prefix == GenerationPrefix) return 0;
        var mine = new List<string>();
        await foreach (var blob in _blobs.ListAsync(GenerationPrefix, cancellationToken).ConfigureAwait(false)) mine.Add(blob.Key);
        foreach (var key in mine) await _blobs.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        return mine.Count;
    }

    private async Task WriteAsync(ModelCheckpointPointer next, CancellationToken cancellationToken)
    {
        if (!IsOwner) throw new InvalidOperationException($"Run {RunId:D} was trained already; nothing of it is this trainer's to commit.");
        try
        {
            var written = await _blobs.WriteJsonAsync(PointerKey, next, ServiceJson.Options, BlobWriteCondition.IfMatch(_etag), cancellationToken)
                .ConfigureAwait(false);
            _etag = written.ETag;
            Committed = next;
        }
        catch (BlobConditionFailedException e)
        {
            // Rewritten by a successor's takeover (or deleted): the store refused the write, nothing was changed.
            throw new TrainingFencedException(RunId, Generation, PointerKey, e);
        }
    }

    private static ModelCheckpointPointer Parse(IBlobStore blobs, string key, BlobContent content)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<ModelCheckpointPointer>(content.Content.Span, ServiceJson.Options)
                   ?? throw new InvalidDataException($"Blob '{key}' in {blobs.Location} holds JSON null, not a {nameof(ModelCheckpointPointer)}.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"Blob '{key}' in {blobs.Location} is not valid JSON for {nameof(ModelCheckpointPointer)}: {e.Message}", e);
        }
    }
}

/// <summary>
/// Another trainer has taken the run since this one last wrote its checkpoint pointer (<see cref="CheckpointFence"/>):
/// this trainer stops, as when its lease is lost, and commits nothing more. Not a failure of the run.
/// </summary>
public sealed class TrainingFencedException(Guid runId, long generation, string pointerKey, Exception innerException)
    : Exception($"Run {runId:D} was taken over by another trainer: '{pointerKey}' is no longer as owner generation {generation} wrote it, so this trainer commits nothing more.",
        innerException)
{
    public Guid RunId { get; } = runId;

    /// <summary>The generation of the trainer that was fenced out.</summary>
    public long Generation { get; } = generation;
}
