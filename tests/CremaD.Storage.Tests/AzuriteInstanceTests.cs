using CremaD.LocalInfrastructure;
using CremaD.Testing;

namespace CremaD.Storage.Tests;

public sealed class AzuriteInstanceTests
{
    [RequiresInfrastructureTheory(Infrastructure.Azurite)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Azurite_serves_blobs_until_disposed_and_leaves_nothing_behind(bool inMemory)
    {
        var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { InMemoryPersistence = inMemory });
        var directory = azurite.Directory;
        try
        {
            Assert.Equal(
                $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteInstance.AccountKey};BlobEndpoint=http://127.0.0.1:{azurite.BlobPort}/devstoreaccount1;",
                azurite.ConnectionString);
            Assert.NotEmpty(azurite.FindOwnProcesses());
            var store = BlobStoreFactory.FromConnectionString(azurite.ConnectionString, "lifecycle");
            await store.WriteTextAsync("probe.txt", "up");
            Assert.Equal("up", await store.ReadTextAsync("probe.txt"));
            // On disk only when asked to: in the instance's own directory, which goes with it.
            Assert.Equal(!inMemory, Directory.Exists(Path.Combine(directory, "data")));
        }
        finally
        {
            await azurite.DisposeAsync();
        }

        Assert.Empty(azurite.FindOwnProcesses());
        Assert.False(await FreePorts.IsListeningAsync(azurite.BlobPort));
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task A_missing_azurite_says_how_to_install_it()
    {
        var error = await Assert.ThrowsAsync<InfrastructureNotInstalledException>(
            () => AzuriteInstance.StartAsync(new AzuriteOptions { ExecutablePath = "/nonexistent/azurite" }));

        Assert.Contains("/nonexistent/azurite", error.Message);
        Assert.Contains("./test.sh", error.Message);
        Assert.Contains("npm ci", error.Message);
    }

    [Fact]
    public async Task Free_ports_are_distinct_loopback_ports_nobody_listens_on()
    {
        var ports = FreePorts.Allocate(6);

        Assert.Equal(6, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1024, 65535));
        foreach (var port in ports)
        {
            Assert.False(await FreePorts.IsListeningAsync(port));
        }
    }
}
