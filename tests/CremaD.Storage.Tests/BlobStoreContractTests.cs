using System.Text;
using System.Text.Json;
using CremaD.Testing;

namespace CremaD.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IBlobStore"/> must have, run against each implementation (each test gets a
/// fresh, empty store). The tests are RequiresInfrastructure facts so that an implementation's class can declare what
/// its store needs (<c>[RequiresInfrastructure(Infrastructure.Azurite)]</c>) and be skipped without it outside CI.
/// </summary>
public abstract class BlobStoreContractTests
{
    protected static readonly TimeSpan LeaseDuration = BlobLeaseDuration.Minimum;

    protected abstract IBlobStore Store { get; }

    /// <summary>Lets a lease of <paramref name="duration"/> taken just now expire.</summary>
    protected abstract Task LetLeaseExpireAsync(TimeSpan duration);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [RequiresInfrastructureFact]
    public async Task Uploaded_content_reads_back_with_its_size_and_etag()
    {
        var written = await Store.WriteBytesAsync("runs/r1/history.json", Bytes("{\"epochs\":3}"));

        Assert.Equal("runs/r1/history.json", written.Key);
        Assert.Equal(12, written.Size);
        Assert.False(string.IsNullOrWhiteSpace(written.ETag));
        Assert.True(await Store.ExistsAsync("runs/r1/history.json"));
        var info = await Store.GetInfoAsync("runs/r1/history.json");
        Assert.NotNull(info);
        Assert.Equal(written.ETag, info.ETag);
        Assert.Equal(12, info.Size);
        Assert.InRange(info.LastModified, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.Equal("{\"epochs\":3}", await Store.ReadTextAsync("runs/r1/history.json"));
    }

    [RequiresInfrastructureFact]
    public async Task Overwriting_replaces_the_content_and_changes_the_etag_even_at_equal_size()
    {
        var first = await Store.WriteTextAsync("model.bin", "aaaa");
        var second = await Store.WriteTextAsync("model.bin", "bbbb");

        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal("bbbb", await Store.ReadTextAsync("model.bin"));
    }

    [RequiresInfrastructureFact]
    public async Task Reading_whole_returns_the_content_with_the_properties_of_that_version_and_null_when_missing()
    {
        var content = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 13)).ToArray();
        var written = await Store.WriteBytesAsync("datasets/d/AudioWAV/1001_DFA_ANG_XX.wav", content);

        var read = await Store.TryReadAllAsync("datasets/d/AudioWAV/1001_DFA_ANG_XX.wav");

        Assert.NotNull(read);
        Assert.Equal(content, read.Content.ToArray());
        var info = await Store.GetInfoAsync("datasets/d/AudioWAV/1001_DFA_ANG_XX.wav");
        Assert.Equal(info, read.Info);
        Assert.Equal(written.ETag, read.Info.ETag);
        Assert.Equal(content.Length, read.Info.Size);
        Assert.Null(await Store.TryReadAllAsync("datasets/d/AudioWAV/missing.wav"));
    }

    [RequiresInfrastructureFact]
    public async Task A_range_read_returns_those_bytes_with_the_whole_blobs_properties_in_one_request()
    {
        var content = Enumerable.Range(0, 90_000).Select(i => (byte)(i * 31)).ToArray();
        var written = await Store.WriteBytesAsync("datasets/d/_packs/pack-00000.bin", content);

        var middle = await Store.TryReadRangeAsync("datasets/d/_packs/pack-00000.bin", 12_345, 40_000);
        var tail = await Store.TryReadRangeAsync("datasets/d/_packs/pack-00000.bin", 80_000, 40_000);
        var past = await Store.TryReadRangeAsync("datasets/d/_packs/pack-00000.bin", 90_000, 10);

        Assert.NotNull(middle);
        Assert.Equal(content.AsSpan(12_345, 40_000).ToArray(), middle.Content.ToArray());
        Assert.Equal(written.ETag, middle.Info.ETag);
        Assert.Equal(content.Length, middle.Info.Size);
        Assert.Equal(written.LastModified, middle.Info.LastModified);
        Assert.NotNull(tail);
        Assert.Equal(content.AsSpan(80_000).ToArray(), tail.Content.ToArray()); // the blob ends first
        Assert.Equal(content.Length, tail.Info.Size);
        Assert.NotNull(past);
        Assert.Equal(0, past.Content.Length);
        Assert.Null(await Store.TryReadRangeAsync("datasets/d/_packs/missing.bin", 0, 10));
    }

    [RequiresInfrastructureFact]
    public async Task A_forward_only_stream_uploads_and_reports_its_size()
    {
        var content = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();

        var written = await Store.UploadAsync("features/train.bin", new ForwardOnlyStream(new MemoryStream(content)));

        Assert.Equal(content.Length, written.Size);
        Assert.Equal(content, await Store.ReadBytesAsync("features/train.bin"));
    }

    [RequiresInfrastructureFact]
    public async Task A_missing_key_is_reported_as_missing_and_reading_it_names_the_key()
    {
        Assert.False(await Store.ExistsAsync("runs/none/history.json"));
        Assert.Null(await Store.GetInfoAsync("runs/none/history.json"));
        Assert.False(await Store.DeleteAsync("runs/none/history.json"));

        var error = await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.OpenReadAsync("runs/none/history.json"));
        Assert.Equal("runs/none/history.json", error.Key);
        Assert.Contains("'runs/none/history.json'", error.Message);

        using var folder = new TempDirectory();
        var target = Path.Combine(folder.Path, "history.json");
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.DownloadToFileAsync("runs/none/history.json", target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [RequiresInfrastructureFact]
    public async Task Listing_returns_the_keys_under_a_prefix_in_ordinal_order()
    {
        string[] keys = ["runs/a/2.json", "runs/a/1.json", "runs/ab/x.json", "runs/b/.hidden", "other.txt", "runs/a/sub/deep.bin"];
        foreach (var key in keys)
        {
            await Store.WriteTextAsync(key, key);
        }

        Assert.Equal(["runs/a/1.json", "runs/a/2.json", "runs/a/sub/deep.bin"], await KeysAsync("runs/a/"));
        Assert.Equal(["runs/a/1.json", "runs/a/2.json", "runs/a/sub/deep.bin", "runs/ab/x.json"], await KeysAsync("runs/a"));
        Assert.Equal(keys.Order(StringComparer.Ordinal), await KeysAsync(""));
        Assert.Empty(await KeysAsync("nothing/"));
        await foreach (var blob in Store.ListAsync("runs/"))
        {
            Assert.Equal(await Store.GetInfoAsync(blob.Key), blob);
            Assert.Equal(Encoding.UTF8.GetByteCount(blob.Key), blob.Size);
        }
    }

    [RequiresInfrastructureFact]
    public async Task Delete_removes_the_blob()
    {
        await Store.WriteTextAsync("runs/r1/a.txt", "a");
        await Store.WriteTextAsync("runs/r1/b.txt", "b");

        Assert.True(await Store.DeleteAsync("runs/r1/a.txt"));

        Assert.False(await Store.ExistsAsync("runs/r1/a.txt"));
        Assert.Equal(["runs/r1/b.txt"], await KeysAsync("runs/"));
        Assert.False(await Store.DeleteAsync("runs/r1/a.txt"));
    }

    [RequiresInfrastructureFact]
    public async Task If_none_exists_creates_once_and_refuses_the_second_write()
    {
        await Store.WriteTextAsync("runs/r1/claim", "first", BlobWriteCondition.IfNoneExists);

        var error = await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteTextAsync("runs/r1/claim", "second", BlobWriteCondition.IfNoneExists));

        Assert.Equal("runs/r1/claim", error.Key);
        Assert.Same(BlobWriteCondition.IfNoneExists, error.Condition);
        Assert.Contains("already exists", error.Message);
        Assert.Equal("first", await Store.ReadTextAsync("runs/r1/claim"));
    }

    [RequiresInfrastructureFact]
    public async Task If_match_writes_over_the_current_etag_and_refuses_a_stale_one()
    {
        var v1 = await Store.WriteTextAsync("runs/r1/state.json", "v1");
        var v2 = await Store.WriteTextAsync("runs/r1/state.json", "v2", BlobWriteCondition.IfMatch(v1.ETag));

        var error = await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteTextAsync("runs/r1/state.json", "v3", BlobWriteCondition.IfMatch(v1.ETag)));

        Assert.Contains(v1.ETag, error.Message);
        Assert.Equal("v2", await Store.ReadTextAsync("runs/r1/state.json"));
        Assert.Equal(v2.ETag, (await Store.GetInfoAsync("runs/r1/state.json"))!.ETag);
    }

    [RequiresInfrastructureFact]
    public async Task If_match_on_a_missing_blob_fails()
    {
        var gone = await Store.WriteTextAsync("runs/r1/state.json", "v1");
        await Store.DeleteAsync("runs/r1/state.json");

        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => Store.WriteTextAsync("runs/r1/state.json", "v2", BlobWriteCondition.IfMatch(gone.ETag)));
        Assert.False(await Store.ExistsAsync("runs/r1/state.json"));
    }

    [RequiresInfrastructureFact]
    public async Task Concurrent_creators_with_if_none_exists_produce_exactly_one_winner()
    {
        var attempts = Enumerable.Range(0, 8).Select(async writer =>
        {
            try
            {
                await Store.WriteTextAsync("runs/r1/owner", $"writer {writer}", BlobWriteCondition.IfNoneExists);
                return writer;
            }
            catch (BlobConditionFailedException)
            {
                return -1;
            }
        });

        var winners = (await Task.WhenAll(attempts)).Where(writer => writer >= 0).ToList();

        var winner = Assert.Single(winners);
        Assert.Equal($"writer {winner}", await Store.ReadTextAsync("runs/r1/owner"));
    }

    [RequiresInfrastructureFact]
    public async Task Optimistic_read_modify_write_loses_no_update_under_contention()
    {
        const int writers = 6;
        const int incrementsEach = 3;
        await Store.WriteJsonAsync("runs/r1/counter.json", new Counter(0));

        await Task.WhenAll(Enumerable.Range(0, writers).Select(async _ =>
        {
            for (var i = 0; i < incrementsEach; i++)
            {
                while (true)
                {
                    var info = (await Store.GetInfoAsync("runs/r1/counter.json"))!;
                    // Read, then write on condition that nobody wrote in between; else start over.
                    var current = await Store.ReadJsonAsync<Counter>("runs/r1/counter.json");
                    try
                    {
                        await Store.WriteJsonAsync("runs/r1/counter.json", current with { Value = current.Value + 1 },
                            condition: BlobWriteCondition.IfMatch(info.ETag));
                        break;
                    }
                    catch (BlobConditionFailedException)
                    {
                    }
                }
            }
        }));

        Assert.Equal(writers * incrementsEach, (await Store.ReadJsonAsync<Counter>("runs/r1/counter.json")).Value);
    }

    [RequiresInfrastructureFact]
    public async Task Json_round_trips_and_invalid_json_is_reported_with_the_key()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        await Store.WriteJsonAsync("runs/r1/metrics.json", new Metrics("ANG", 0.5, [1, 2, 3]), options);

        var metrics = await Store.ReadJsonAsync<Metrics>("runs/r1/metrics.json", options);

        Assert.Equal("ANG", metrics.Label);
        Assert.Equal(0.5, metrics.Accuracy);
        Assert.Equal([1, 2, 3], metrics.Counts);
        Assert.Contains("\"accuracy\":0.5", await Store.ReadTextAsync("runs/r1/metrics.json")); // the options' naming
        await Store.WriteJsonAsync("runs/r1/counter.json", new Counter(7));
        Assert.Equal("{\n  \"Value\": 7\n}", (await Store.ReadTextAsync("runs/r1/counter.json")).ReplaceLineEndings("\n"));

        await Store.WriteTextAsync("runs/r1/broken.json", "{\"label\": ");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Store.ReadJsonAsync<Metrics>("runs/r1/broken.json"));
        Assert.Contains("'runs/r1/broken.json'", error.Message);
        await Store.WriteTextAsync("runs/r1/null.json", "null");
        await Assert.ThrowsAsync<InvalidDataException>(() => Store.ReadJsonAsync<Metrics>("runs/r1/null.json"));
    }

    [RequiresInfrastructureFact]
    public async Task Files_upload_and_download_whole_and_replace_existing_files()
    {
        using var folder = new TempDirectory();
        var source = Path.Combine(folder.Path, "model.bin");
        var content = Enumerable.Range(0, 300_000).Select(i => (byte)(i % 251)).ToArray();
        await File.WriteAllBytesAsync(source, content);
        var target = Path.Combine(folder.Path, "out", "model.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await File.WriteAllTextAsync(target, "stale content");

        await Store.UploadFileAsync("runs/r1/best_model.bin", source);
        await Store.DownloadToFileAsync("runs/r1/best_model.bin", target);

        Assert.Equal(content.Length, (await Store.GetInfoAsync("runs/r1/best_model.bin"))!.Size);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.Equal(["model.bin"], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
    }

    [RequiresInfrastructureFact]
    public async Task A_directory_round_trips_under_a_prefix()
    {
        using var folder = new TempDirectory();
        var source = Path.Combine(folder.Path, "source");
        var files = new Dictionary<string, byte[]>
        {
            ["history.json"] = Bytes("{}"),
            ["plots/training_curves.png"] = Enumerable.Range(0, 50_000).Select(i => (byte)i).ToArray(),
            ["plots/confusion_matrix.png"] = Bytes("png"),
            ["empty.txt"] = [],
            [".hidden/notes"] = Bytes("dot files count"),
        };
        foreach (var (relative, content) in files)
        {
            var path = Path.Combine(source, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, content);
        }
        await Store.WriteTextAsync("runs/r1/artifacts-old/unrelated.txt", "must not be downloaded");

        var uploaded = await Store.UploadDirectoryAsync(source, "runs/r1/artifacts", maxParallelism: 3);

        Assert.Equal(files.Keys.Select(relative => "runs/r1/artifacts/" + relative).Order(StringComparer.Ordinal), uploaded);
        var target = Path.Combine(folder.Path, "target");
        var downloaded = await Store.DownloadDirectoryAsync("runs/r1/artifacts/", target, maxParallelism: 2);
        Assert.Equal(files.Count, downloaded.Count);
        foreach (var (relative, content) in files)
        {
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(target, relative)));
        }
        Assert.Equal(files.Count, Directory.GetFiles(target, "*", SearchOption.AllDirectories).Length);
    }

    [RequiresInfrastructureFact]
    public async Task Uploading_a_missing_directory_names_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "cremad-no-such-dir-" + Guid.NewGuid().ToString("N"));

        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Store.UploadDirectoryAsync(missing, "runs/r1"));

        Assert.Contains(missing, error.Message);
    }

    [RequiresInfrastructureTheory]
    [InlineData("")]
    [InlineData("/runs/r1")]
    [InlineData("runs//r1")]
    [InlineData("runs/r1/")]
    [InlineData("runs/../secrets")]
    [InlineData("runs\\r1")]
    [InlineData("runs/r1.")]
    [InlineData(".cremad-store/tmp/x")]
    public async Task Invalid_keys_are_rejected_with_the_reason(string key)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteTextAsync(key, "x"));

        Assert.Contains($"'{key}'", error.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ExistsAsync(key));
    }

    [RequiresInfrastructureFact]
    public async Task A_lease_excludes_other_owners_and_writers_until_released()
    {
        var lease = await Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);

        Assert.Equal("runs/r1/owner.lease", lease.Key);
        Assert.False(string.IsNullOrEmpty(lease.LeaseId));
        Assert.True(await Store.ExistsAsync("runs/r1/owner.lease"));
        var conflict = await Assert.ThrowsAsync<BlobLeaseConflictException>(
            () => Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        Assert.Contains("'runs/r1/owner.lease'", conflict.Message);
        Assert.Null(await Store.TryAcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        await Assert.ThrowsAsync<BlobLeaseConflictException>(() => Store.WriteTextAsync("runs/r1/owner.lease", "x"));
        await Assert.ThrowsAsync<BlobLeaseConflictException>(() => Store.DeleteAsync("runs/r1/owner.lease"));

        await lease.RenewAsync();
        await Assert.ThrowsAsync<BlobLeaseConflictException>(() => Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        await lease.ReleaseAsync();

        await using var next = await Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);
        Assert.NotEqual(lease.LeaseId, next.LeaseId);
        await lease.DisposeAsync(); // released already: nothing to do, and no effect on the new owner
        Assert.Null(await Store.TryAcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
    }

    [RequiresInfrastructureFact]
    public async Task Disposing_a_lease_releases_it()
    {
        await using (await Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration))
        {
            Assert.Null(await Store.TryAcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        }

        await using var next = await Store.TryAcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);
        Assert.NotNull(next);
    }

    [RequiresInfrastructureFact]
    public async Task An_expired_lease_can_be_taken_over_and_the_old_owner_learns_it_lost_it()
    {
        await Store.WriteTextAsync("runs/r1/owner.lease", "existing content stays");
        var first = await Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);

        await LetLeaseExpireAsync(LeaseDuration);
        var second = await Store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);

        await Assert.ThrowsAsync<BlobLeaseLostException>(() => first.RenewAsync());
        var lost = await Assert.ThrowsAsync<BlobLeaseLostException>(() => first.ReleaseAsync());
        Assert.Equal("runs/r1/owner.lease", lost.Key);
        await first.DisposeAsync(); // swallows the loss: the lease is gone either way
        Assert.Null(await Store.TryAcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        await second.ReleaseAsync();
        Assert.Equal("existing content stays", await Store.ReadTextAsync("runs/r1/owner.lease"));
        // Without a lease the blob is an ordinary blob again.
        Assert.True(await Store.DeleteAsync("runs/r1/owner.lease"));
    }

    [RequiresInfrastructureTheory]
    [InlineData(14)]
    [InlineData(61)]
    public async Task Lease_durations_outside_the_azure_limits_are_rejected(int seconds)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => Store.AcquireLeaseAsync("runs/r1/owner.lease", TimeSpan.FromSeconds(seconds)));
    }

    private async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var blob in Store.ListAsync(prefix))
        {
            keys.Add(blob.Key);
        }
        return keys;
    }

    public sealed record Counter(int Value);

    public sealed record Metrics(string Label, double Accuracy, int[] Counts);
}
