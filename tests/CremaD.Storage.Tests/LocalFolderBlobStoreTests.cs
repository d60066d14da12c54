using System.Text;
using CremaD.Testing;

namespace CremaD.Storage.Tests;

public sealed class LocalFolderBlobStoreTests : BlobStoreContractTests, IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly ManualTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly LocalFolderBlobStore _store;

    public LocalFolderBlobStoreTests() => _store = new LocalFolderBlobStore(_folder.Path, _clock);

    protected override IBlobStore Store => _store;

    protected override Task LetLeaseExpireAsync(TimeSpan duration)
    {
        _clock.Advance(duration + TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_blob_is_an_ordinary_file_under_the_root()
    {
        await _store.WriteTextAsync("runs/r1/history.json", "[]");

        var path = Path.Combine(_folder.Path, "runs", "r1", "history.json");
        Assert.Equal(path, _store.PathOf("runs/r1/history.json"));
        Assert.Equal("[]", await File.ReadAllTextAsync(path));
        Assert.Equal($"local folder {_folder.Path}", _store.Location);
    }

    [Fact]
    public async Task A_failed_upload_leaves_the_previous_content_and_no_temporary_file()
    {
        await _store.WriteTextAsync("runs/r1/model.bin", "good model");

        await Assert.ThrowsAsync<IOException>(() => _store.UploadAsync("runs/r1/model.bin", new FailingStream(100_000)));

        Assert.Equal("good model", await _store.ReadTextAsync("runs/r1/model.bin"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_folder.Path, BlobKey.ReservedFolder, "tmp")));
    }

    [Fact]
    public async Task The_bookkeeping_folder_is_never_listed()
    {
        await _store.WriteTextAsync("a.txt", "a");
        await using var lease = await _store.AcquireLeaseAsync("runs/owner.lease", LeaseDuration);

        var keys = new List<string>();
        await foreach (var blob in _store.ListAsync(""))
        {
            keys.Add(blob.Key);
        }

        Assert.Equal(["a.txt", "runs/owner.lease"], keys);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(_folder.Path, BlobKey.ReservedFolder, "leases")));
    }

    [Fact]
    public async Task Store_instances_over_one_folder_share_conditions_and_leases()
    {
        var other = new LocalFolderBlobStore(_folder.Path, _clock);
        await _store.WriteTextAsync("runs/r1/claim", "mine", BlobWriteCondition.IfNoneExists);
        await using var lease = await _store.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration);

        await Assert.ThrowsAsync<BlobConditionFailedException>(
            () => other.WriteTextAsync("runs/r1/claim", "theirs", BlobWriteCondition.IfNoneExists));
        var conflict = await Assert.ThrowsAsync<BlobLeaseConflictException>(
            () => other.AcquireLeaseAsync("runs/r1/owner.lease", LeaseDuration));
        Assert.Contains($"pid {Environment.ProcessId}", conflict.Message);
    }

    [Fact]
    public async Task A_blob_cannot_share_its_name_with_a_folder_of_blobs()
    {
        await _store.WriteTextAsync("runs/r1", "a blob");
        await _store.WriteTextAsync("runs/r2/history.json", "[]");

        var under = await Assert.ThrowsAsync<BlobStoreException>(() => _store.WriteTextAsync("runs/r1/history.json", "[]"));
        var over = await Assert.ThrowsAsync<BlobStoreException>(() => _store.WriteTextAsync("runs/r2", "a blob"));

        Assert.Contains("'runs/r1/history.json'", under.Message);
        Assert.Contains("folder", over.Message);
        Assert.Equal("a blob", await _store.ReadTextAsync("runs/r1"));
        Assert.False(await _store.ExistsAsync("runs/r2"));
    }

    [Fact]
    public async Task Reading_a_folder_as_a_blob_reports_it_missing()
    {
        await _store.WriteTextAsync("runs/r1/history.json", "[]");

        Assert.False(await _store.ExistsAsync("runs/r1"));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => _store.OpenReadAsync("runs/r1"));
    }

    [Fact]
    public async Task A_reader_keeps_the_content_it_opened_while_a_writer_replaces_it()
    {
        var original = Encoding.UTF8.GetBytes(new string('a', 100_000));
        await _store.WriteBytesAsync("features/train.bin", original);
        await using var reader = await _store.OpenReadAsync("features/train.bin");

        await _store.WriteTextAsync("features/train.bin", "replacement");

        using var copy = new MemoryStream();
        await reader.CopyToAsync(copy);
        Assert.Equal(original, copy.ToArray());
        Assert.Equal("replacement", await _store.ReadTextAsync("features/train.bin"));
    }

    [Fact]
    public async Task A_corrupt_lease_file_is_reported_with_its_path()
    {
        await using (await _store.AcquireLeaseAsync("runs/owner.lease", LeaseDuration))
        {
            var leaseFile = Directory.GetFiles(Path.Combine(_folder.Path, BlobKey.ReservedFolder, "leases")).Single();
            await File.WriteAllTextAsync(leaseFile, "{not json");

            var error = await Assert.ThrowsAsync<BlobStoreException>(() => _store.AcquireLeaseAsync("runs/owner.lease", LeaseDuration));

            Assert.Contains(leaseFile, error.Message);
            File.Delete(leaseFile);
        }
    }
}
