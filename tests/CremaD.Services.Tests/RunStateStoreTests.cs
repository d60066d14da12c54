using System.Collections.Concurrent;
using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>Listing runs: from the run index only, newest first, with a limit; on a local-folder store.</summary>
public sealed class RunStateStoreTests : TempDirectoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 8, 0, 0, TimeSpan.Zero);

    /// <summary>Runs submitted a minute apart, in a shuffled order, each with a run folder full of other blobs.</summary>
    private static async Task<List<Guid>> SubmitRunsAsync(IBlobStore blobs, RunStateStore states, int count)
    {
        var runs = Enumerable.Range(0, count).Select(i => (RunId: Guid.NewGuid(), SubmittedAt: Start.AddMinutes(i))).ToList();
        foreach (var (runId, submittedAt) in runs.OrderBy(r => r.RunId))
        {
            var submit = new SubmitRun(runId, new DatasetRef("datasets/demo/"), RunConfig.Default, submittedAt, $"run {submittedAt:HH:mm}");
            await states.UpdateAsync(runId, status => status ?? RunStateStore.Pending(submit));
            // What a run's folder holds besides its status: model, checkpoint, artefacts.
            foreach (var name in new[] { "model/best_model", "model/last_checkpoint", "model/history.json", "artifacts/test_metrics.json" })
            {
                await blobs.WriteTextAsync(BlobLayout.RunPrefix(runId) + name, "x");
            }
        }
        return runs.OrderByDescending(r => r.SubmittedAt).Select(r => r.RunId).ToList();
    }

    [Fact]
    public async Task Runs_are_listed_newest_first_from_the_index_without_listing_run_folders()
    {
        var blobs = new RecordingBlobStore(new LocalFolderBlobStore(Temp.Sub("blobs")));
        var states = new RunStateStore(blobs);
        var newestFirst = await SubmitRunsAsync(blobs, states, 5);
        // A status updated later keeps its place (it is ordered by submission) and shows its latest content.
        var oldest = newestFirst[^1];
        await states.UpdateAsync(oldest, status => status! with { Name = "renamed" });
        blobs.Clear();

        var listed = await states.ListAsync();

        Assert.Equal(newestFirst, listed.Select(r => r.RunId));
        Assert.Equal("renamed", listed[^1].Name);
        Assert.Equal([BlobLayout.RunIndexPrefix], blobs.ListedPrefixes);
        Assert.Equal(newestFirst.Select(BlobLayout.RunStatusKey).Order(StringComparer.Ordinal), blobs.ReadKeys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_limit_returns_the_newest_runs_and_reads_no_more_statuses_than_a_batch()
    {
        var blobs = new RecordingBlobStore(new LocalFolderBlobStore(Temp.Sub("blobs")));
        var states = new RunStateStore(blobs);
        var newestFirst = await SubmitRunsAsync(blobs, states, 20);
        blobs.Clear();

        var listed = await states.ListAsync(limit: 3);

        Assert.Equal(newestFirst.Take(3), listed.Select(r => r.RunId));
        // Statuses are read in batches of 8 newest-first, and not beyond the batch that filled the limit.
        Assert.Equal(newestFirst.Take(8).Select(BlobLayout.RunStatusKey).Order(StringComparer.Ordinal), blobs.ReadKeys.Order(StringComparer.Ordinal));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => states.ListAsync(limit: 0));
    }

    [Fact]
    public async Task An_index_entry_whose_status_was_never_written_is_skipped()
    {
        var blobs = new LocalFolderBlobStore(Temp.Sub("blobs"));
        var states = new RunStateStore(blobs);
        var newestFirst = await SubmitRunsAsync(blobs, states, 2);
        // A writer that indexed a run and then died before creating its status.
        await blobs.WriteTextAsync(BlobLayout.RunIndexKey(Guid.NewGuid(), Start.AddHours(1)), "");

        var listed = await states.ListAsync();

        Assert.Equal(newestFirst, listed.Select(r => r.RunId));
    }

    [Fact]
    public void Index_keys_sort_newest_submission_first()
    {
        var runId = Guid.NewGuid();
        var earlier = BlobLayout.RunIndexKey(runId, Start);
        var later = BlobLayout.RunIndexKey(runId, Start.AddTicks(1));

        Assert.True(string.CompareOrdinal(later, earlier) < 0);
        Assert.Equal($"run-index/{DateTimeOffset.MaxValue.UtcTicks - Start.UtcTicks:D19}-{runId:N}", earlier);
    }

    /// <summary>Records which prefixes are listed and which keys are read.</summary>
    private sealed class RecordingBlobStore(IBlobStore inner) : DelegatingBlobStore(inner)
    {
        private readonly ConcurrentQueue<string> _listed = new();
        private readonly ConcurrentQueue<string> _read = new();

        public IReadOnlyList<string> ListedPrefixes => [.. _listed];

        public IReadOnlyList<string> ReadKeys => [.. _read];

        public void Clear()
        {
            _listed.Clear();
            _read.Clear();
        }

        public override IAsyncEnumerable<BlobInfo> ListAsync(string prefix, CancellationToken cancellationToken = default)
        {
            _listed.Enqueue(prefix);
            return base.ListAsync(prefix, cancellationToken);
        }

        public override Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            _read.Enqueue(key);
            return base.OpenReadAsync(key, cancellationToken);
        }
    }
}
