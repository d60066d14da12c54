using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Storage;

namespace CremaD.Cli.Tests;

public sealed class DatasetUploadTests
{
    [Fact]
    public async Task Upload_puts_the_demo_where_the_services_read_it()
    {
        using var dir = new TempDir();
        var storeRoot = dir["store"];
        var (code, stdout, stderr) = await Cremad.RunAsync("dataset", "upload", Repo.Demo, "--name", "demo", "--connection-string", storeRoot);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("to datasets/demo/", stdout);

        // The services' own reader sees the same dataset as the local one.
        var store = BlobStoreFactory.FromConnectionString(storeRoot, "cremad");
        var listing = await BlobDataset.ReadAsync(store, new DatasetRef(BlobDataset.PrefixOf("demo")));
        var local = CremaD.Datasets.DatasetReader.Open(Repo.Demo, new CremaD.Datasets.DatasetOptions());
        Assert.Equal(local.Clips.Count, listing.Clips.Count);
    }

    [Fact]
    public async Task Upload_of_a_folder_that_is_not_a_dataset_fails_and_uploads_nothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["empty"]);
        var (code, _, stderr) = await Cremad.RunAsync("dataset", "upload", dir["empty"], "--name", "x", "--connection-string", dir["store"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
        Assert.False(Directory.Exists(Path.Combine(dir["store"], "cremad", "datasets")));
    }
}
