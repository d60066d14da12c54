using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Testing;
using CremaD.Training.Service;

namespace CremaD.Services.Tests;

/// <summary>
/// The owner-generation fence of a run's model (<see cref="CheckpointFence"/>) on a real Azurite and on a local folder, with
/// the run's real lease: a trainer frozen past its lease, whose successor has taken the run and committed, cannot commit
/// (nor record the run as trained) when it wakes; the successor's checkpoint and files stay as they are and are what the
/// next trainer resumes from; once trained, only the committed generation's files remain.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class CheckpointFenceTests(AzuriteFixture azurite) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [RequiresInfrastructureFact(Infrastructure.Azurite)]
    public Task On_Azurite_a_trainer_fenced_out_by_its_successor_cannot_commit_and_the_successors_checkpoint_is_resumed() =>
        FencedOutTrainerCannotCommitAsync(BlobStoreFactory.FromConnectionString(azurite.ConnectionString, "fence-" + Guid.NewGuid().ToString("N")[..12]));

    [Fact]
    public Task On_a_local_folder_a_trainer_fenced_out_by_its_successor_cannot_commit_and_the_successors_checkpoint_is_resumed() =>
        FencedOutTrainerCannotCommitAsync(new LocalFolderBlobStore(_temp.Sub("blobs")));

    private async Task FencedOutTrainerCannotCommitAsync(IBlobStore blobs)
    {
        var runId = Guid.NewGuid();
        var modelPrefix = BlobLayout.ModelPrefix(runId);
        var leaseKey = BlobLayout.TrainerLeaseKey(runId);
        var none = CancellationToken.None;

        // Trainer A takes the run under its lease and commits epoch 1.
        var leaseA = await blobs.AcquireLeaseAsync(leaseKey, BlobLeaseDuration.Minimum);
        var a = await CheckpointFence.TakeOverAsync(blobs, runId, modelPrefix, none);
        Assert.Equal(new ModelCheckpointPointer(1, null, 0, null), a.Committed);
        await UploadAsync(blobs, a, "A, epoch 1");
        await a.CommitAsync(1, none);

        // A freezes: no more renewals. Nobody else gets the run while its lease lasts; once it has expired, B takes the
        // run (resuming from A's epoch 1) and commits its epoch 2.
        Assert.Null(await blobs.TryAcquireLeaseAsync(leaseKey, BlobLeaseDuration.Minimum));
        await using var leaseB = await WaitForLeaseAsync(blobs, leaseKey);
        var b = await CheckpointFence.TakeOverAsync(blobs, runId, modelPrefix, none);
        Assert.Equal(new ModelCheckpointPointer(2, a.GenerationPrefix, 1, null), b.Committed);
        await UploadAsync(blobs, b, "B, epoch 2");
        await b.CommitAsync(2, none);
        var filesOfB = await ReadFolderAsync(blobs, b.GenerationPrefix);

        // A wakes up. What it uploads goes to its own folder; its commits are refused, as is its lease.
        await UploadAsync(blobs, a, "A, epoch 2 (stale)");
        var fenced = await Assert.ThrowsAsync<TrainingFencedException>(() => a.CommitAsync(2, none));
        Assert.Equal((runId, 1L), (fenced.RunId, fenced.Generation));
        await Assert.ThrowsAsync<TrainingFencedException>(() => a.CompleteAsync(Completed(runId, a.GenerationPrefix), none));
        await Assert.ThrowsAsync<BlobLeaseLostException>(() => leaseA.RenewAsync());

        // B's checkpoint and files are intact; A removes its folder, which no pointer names any more.
        Assert.Equal(new ModelCheckpointPointer(2, b.GenerationPrefix, 2, null), await PointerAsync(blobs, modelPrefix));
        Assert.Equal(filesOfB, await ReadFolderAsync(blobs, b.GenerationPrefix));
        Assert.Equal(2, await a.DeleteAbandonedGenerationAsync(none));
        Assert.Empty(await ReadFolderAsync(blobs, a.GenerationPrefix));

        // The next trainer resumes from B's checkpoint, trains, completes; only its generation's files remain.
        await leaseB.ReleaseAsync();
        await using var leaseC = await blobs.AcquireLeaseAsync(leaseKey, BlobLeaseDuration.Minimum);
        var c = await CheckpointFence.TakeOverAsync(blobs, runId, modelPrefix, none);
        Assert.Equal(new ModelCheckpointPointer(3, b.GenerationPrefix, 2, null), c.Committed);
        var resumed = _temp.Sub("resumed-" + Guid.NewGuid().ToString("N")[..6]);
        await blobs.DownloadDirectoryAsync(c.Committed.Prefix!, resumed);
        Assert.Equal("B, epoch 2: " + ModelFiles.Checkpoint, await File.ReadAllTextAsync(Path.Combine(resumed, ModelFiles.Checkpoint)));
        await UploadAsync(blobs, c, "C, done");
        var completed = Completed(runId, c.GenerationPrefix);
        await c.CompleteAsync(completed, none);
        await Assert.ThrowsAsync<TrainingFencedException>(() => b.CommitAsync(3, none));

        Assert.Equal(2, await c.DeleteOtherGenerationsAsync(none));
        var left = new List<string>();
        await foreach (var blob in blobs.ListAsync(modelPrefix)) left.Add(blob.Key);
        Assert.Equal([BlobLayout.ModelCheckpointKey(modelPrefix), c.GenerationPrefix + ModelFiles.BestModel, c.GenerationPrefix + ModelFiles.Checkpoint],
            left);
        // A trainer that finds the run trained takes nothing over: it republishes the stored result.
        var after = await CheckpointFence.TakeOverAsync(blobs, runId, modelPrefix, none);
        Assert.False(after.IsOwner);
        Assert.Equal(completed, after.Committed.Completed);
    }

    private static TrainingCompleted Completed(Guid runId, string model) =>
        new(runId, model, model + "history.json", 3, 2, 0.5, StoppedEarly: false, 1.5, DateTimeOffset.UtcNow);

    /// <summary>Uploads a best model and a checkpoint whose contents say who wrote them, as a trainer does: to its own generation's folder.</summary>
    private async Task UploadAsync(IBlobStore blobs, CheckpointFence fence, string writer)
    {
        var directory = _temp.Sub("model-" + Guid.NewGuid().ToString("N")[..6]);
        foreach (var name in new[] { ModelFiles.BestModel, ModelFiles.Checkpoint })
        {
            await File.WriteAllTextAsync(Path.Combine(directory, name), $"{writer}: {name}");
        }
        await new ModelUploader(blobs).UploadAsync(fence.RunId, directory, [ModelFiles.BestModel, ModelFiles.Checkpoint], fence.GenerationPrefix,
            CancellationToken.None);
    }

    private static async Task<IBlobLease> WaitForLeaseAsync(IBlobStore blobs, string key)
    {
        var deadline = DateTimeOffset.UtcNow + BlobLeaseDuration.Minimum + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (await blobs.TryAcquireLeaseAsync(key, BlobLeaseDuration.Minimum) is { } lease) return lease;
            Assert.True(DateTimeOffset.UtcNow < deadline, "the frozen trainer's lease never expired");
            await Task.Delay(500);
        }
    }

    private static async Task<ModelCheckpointPointer> PointerAsync(IBlobStore blobs, string modelPrefix) =>
        await blobs.ReadJsonAsync<ModelCheckpointPointer>(BlobLayout.ModelCheckpointKey(modelPrefix), ServiceJson.Options);

    private static async Task<Dictionary<string, string>> ReadFolderAsync(IBlobStore blobs, string prefix)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var blob in blobs.ListAsync(prefix)) files[blob.Key[prefix.Length..]] = await blobs.ReadTextAsync(blob.Key);
        return files;
    }
}
