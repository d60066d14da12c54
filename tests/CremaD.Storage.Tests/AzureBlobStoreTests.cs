using System.Diagnostics;
using Azure.Storage.Blobs;
using CremaD.LocalInfrastructure;
using CremaD.Testing;
using CremaD.Telemetry;

namespace CremaD.Storage.Tests;

[Collection(AzuriteFixture.CollectionName)]
[RequiresInfrastructure(Infrastructure.Azurite)]
public sealed class AzureBlobStoreTests : BlobStoreContractTests, IAsyncLifetime
{
    private readonly AzuriteFixture _azurite;
    private readonly string _containerName = "test-" + Guid.NewGuid().ToString("N")[..20];
    private readonly IBlobStore _store;

    public AzureBlobStoreTests(AzuriteFixture azurite)
    {
        _azurite = azurite;
        _store = BlobStoreFactory.FromConnectionString(azurite.ConnectionString, _containerName);
    }

    protected override IBlobStore Store => _store;

    // Azure leases last at least 15 s and Azurite keeps real time, so expiry is waited for.
    protected override Task LetLeaseExpireAsync(TimeSpan duration) => Task.Delay(duration + TimeSpan.FromSeconds(1.5));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() =>
        await new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient(_containerName).DeleteIfExistsAsync();

    [RequiresInfrastructureFact(Infrastructure.Azurite)]
    public async Task The_container_is_created_on_first_use_and_etags_are_the_services()
    {
        var container = new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient(_containerName);
        Assert.False((await container.ExistsAsync()).Value);

        var written = await _store.WriteTextAsync("runs/r1/history.json", "[]");

        Assert.True((await container.ExistsAsync()).Value);
        var properties = (await container.GetBlobClient("runs/r1/history.json").GetPropertiesAsync()).Value;
        Assert.Equal(properties.ETag.ToString(), written.ETag);
        Assert.Equal(properties.LastModified, written.LastModified);
        var store = Assert.IsType<AzureBlobStore>(_store);
        Assert.Equal($"Azure blob container '{_containerName}' at {_azurite.Instance.BlobEndpoint}/{_containerName}", store.Location);
    }

    [RequiresInfrastructureFact(Infrastructure.Azurite)]
    public async Task Storage_requests_are_traced_through_the_azure_activity_sources()
    {
        Assert.True(AppContext.TryGetSwitch(AzureSdkTracing.ActivitySourceSwitch, out var enabled) && enabled);
        var operations = new List<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("Azure.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (operations)
                {
                    operations.Add(activity.OperationName);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await _store.WriteTextAsync("runs/r1/traced.txt", "x");

        lock (operations)
        {
            Assert.Contains(operations, name => name.Contains("Upload", StringComparison.Ordinal));
        }
    }
}
