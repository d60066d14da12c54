using System.Diagnostics;
using System.Text;
using CremaD.LocalInfrastructure;
using CremaD.Telemetry;
using CremaD.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace CremaD.Storage.Tests;

internal static class BlobTestSupport
{
    /// <summary>A container of one's own, so tests do not see each other's blobs.</summary>
    public static string UniqueContainer() => "svc-" + Guid.NewGuid().ToString("N")[..12];

    public static async Task<string> RoundTripAsync(IBlobStore store, string key, string text)
    {
        await store.UploadAsync(key, new MemoryStream(Encoding.UTF8.GetBytes(text)));
        await using var read = await store.OpenReadAsync(key);
        using var reader = new StreamReader(read, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }
}

/// <summary>AddCremaDBlobStore against a real private Azurite.</summary>
[Collection(AzuriteFixture.CollectionName)]
public sealed class AzuriteBlobStorageTests(AzuriteFixture azurite)
{
    [RequiresInfrastructureFact(Infrastructure.Azurite)]
    public async Task The_store_from_the_aspire_connection_string_works_is_healthy_and_traced()
    {
        var container = BlobTestSupport.UniqueContainer();
        var spans = new List<Activity>();
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:blobs"] = azurite.ConnectionString });
        builder.AddServiceDefaults();
        builder.AddCremaDBlobStore(container: container);
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((200, "Healthy"), await app.GetAsync("/health"));
        var store = app.Services.GetRequiredService<IBlobStore>();
        Assert.Same(store, app.Services.GetRequiredKeyedService<IBlobStore>(container));
        Assert.IsType<AzureBlobStore>(store);
        Assert.Equal("[1, 2, 3]", await BlobTestSupport.RoundTripAsync(store, "runs/r1/history.json", "[1, 2, 3]"));

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var check = report.Entries[$"blobs-{container}"];
        Assert.Equal(HealthStatus.Healthy, check.Status);
        Assert.Contains(HealthCheckTags.Ready, check.Tags);
        Assert.Contains(container, check.Description);

        // The Azure SDK's own spans (its experimental ActivitySource switch is on).
        app.Services.GetRequiredService<TracerProvider>().ForceFlush();
        lock (spans)
        {
            Assert.Contains(spans, s => s.Source.Name.StartsWith("Azure.Storage.Blobs", StringComparison.Ordinal)
                && s.DisplayName.Contains("Upload", StringComparison.Ordinal));
        }
    }

    [RequiresInfrastructureFact(Infrastructure.Azurite)]
    public async Task Unreachable_storage_makes_the_service_unready_but_alive()
    {
        var closed = azurite.ConnectionString.Replace($":{azurite.Instance.BlobPort}/", $":{FreePorts.AllocateOne()}/", StringComparison.Ordinal);
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:blobs"] = closed });
        builder.AddServiceDefaults();
        builder.AddCremaDBlobStore(container: BlobTestSupport.UniqueContainer());
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((503, "Unhealthy"), await app.GetAsync("/health"));
        Assert.Equal((200, "Healthy"), await app.GetAsync("/alive"));
    }
}

/// <summary>AddCremaDBlobStore without Azurite: the local-folder store of embedded runs and the configuration errors.</summary>
public sealed class BlobStorageConfigurationTests : TempDirectoryTests
{
    [Fact]
    public async Task A_directory_serves_as_the_store_of_an_embedded_run()
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:blobs"] = Temp.Path });
        builder.AddServiceDefaults();
        builder.AddCremaDBlobStore();
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((200, "Healthy"), await app.GetAsync("/health"));
        var store = app.Services.GetRequiredService<IBlobStore>();
        Assert.IsType<LocalFolderBlobStore>(store);
        Assert.Equal("ok", await BlobTestSupport.RoundTripAsync(store, "runs/r1/status.txt", "ok"));
        Assert.True(File.Exists(Path.Combine(Temp.Path, "cremad", "runs", "r1", "status.txt")));
    }

    [Fact]
    public void Several_containers_are_keyed_by_name_and_the_first_is_the_default()
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:blobs"] = Temp.Path });
        builder.AddCremaDBlobStore(container: "datasets");
        builder.AddCremaDBlobStore(container: "outputs");
        using var services = builder.Services.BuildServiceProvider();

        var datasets = services.GetRequiredKeyedService<IBlobStore>("datasets");
        var outputs = services.GetRequiredKeyedService<IBlobStore>("outputs");

        Assert.Same(datasets, services.GetRequiredService<IBlobStore>());
        Assert.NotSame(datasets, outputs);
        Assert.EndsWith("outputs", outputs.Location);
    }

    [Fact]
    public void A_missing_connection_string_is_named_with_the_accepted_forms()
    {
        var builder = TestApp.CreateBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDBlobStore());

        Assert.Contains("'ConnectionStrings:blobs'", error.Message);
        Assert.Contains("ConnectionStrings__blobs", error.Message);
        Assert.Contains("https://<account>.blob.core.windows.net/", error.Message);
        Assert.Contains("local directory", error.Message);
    }

    [Fact]
    public void A_malformed_connection_string_is_named_without_its_key()
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?>
        {
            ["ConnectionStrings:storage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=not*base64*secret;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;",
        });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDBlobStore(connectionName: "storage"));

        Assert.StartsWith("The connection string 'ConnectionStrings:storage' cannot be used for blob storage:", error.Message);
        Assert.Contains("AccountKey is not valid base64", error.Message);
        Assert.DoesNotContain("secret", error.Message);
    }

    [Fact]
    public void An_invalid_container_name_is_refused()
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:blobs"] = Temp.Path });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDBlobStore(container: "Bad_Name"));

        Assert.Contains("Invalid blob container name 'Bad_Name'", error.Message);
    }
}
