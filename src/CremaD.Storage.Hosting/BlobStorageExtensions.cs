using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>The blob store every CremaD service reads and writes datasets, features, models and reports through.</summary>
public static class BlobStorageExtensions
{
    /// <summary>Configuration key of the blob container the services share (environment <c>CremaD__BlobContainer</c>).</summary>
    public const string BlobContainerKey = "CremaD:BlobContainer";

    public const string DefaultBlobContainer = "cremad";

    /// <summary>
    /// How long the storage health check may take before it reports Unhealthy. The SDK retries a refused connection
    /// for longer than that; a probe should answer within its own timeout, and a storage that slow is not ready anyway.
    /// </summary>
    public static readonly TimeSpan HealthCheckTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Registers the <see cref="IBlobStore"/> for container <paramref name="container"/> of the storage that
    /// <c>ConnectionStrings:&lt;connectionName&gt;</c> (environment <c>ConnectionStrings__blobs</c>) points at, as
    /// <see cref="BlobStoreFactory.FromConnectionString"/> reads it: an account connection string (Azurite), the blob
    /// endpoint URI <c>https://&lt;account&gt;.blob.core.windows.net/</c> (managed identity through DefaultAzureCredential),
    /// or a local directory (embedded mode). The store is the unkeyed <see cref="IBlobStore"/> (the first one registered)
    /// and the keyed service <c>[FromKeyedServices("&lt;container&gt;")] IBlobStore</c>. A health check named
    /// <c>&lt;connectionName&gt;-&lt;container&gt;</c>, tagged <c>ready</c>, lists the container (creating it when missing),
    /// so /health fails while the storage is unreachable or refuses the credentials.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection string is missing or malformed; the message names the setting.</exception>
    public static TBuilder AddCremaDBlobStore<TBuilder>(this TBuilder builder, string connectionName = "blobs", string container = DefaultBlobContainer)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        var value = builder.Configuration.GetConnectionString(connectionName);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException(
                $"Blob storage is not configured: the connection string 'ConnectionStrings:{connectionName}' (environment variable " +
                $"ConnectionStrings__{connectionName}) is missing or empty. Set it to an account connection string (Azurite: " +
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=...;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;), " +
                "the blob endpoint URI https://<account>.blob.core.windows.net/ (managed identity), or a local directory path.");
        }

        IBlobStore store;
        try
        {
            // Creating the store only parses and checks the value; nothing is contacted until first use.
            store = BlobStoreFactory.FromConnectionString(value, container);
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"The connection string 'ConnectionStrings:{connectionName}' cannot be used for blob storage: {e.Message}", e);
        }

        builder.Services.TryAddSingleton(store);
        builder.Services.AddKeyedSingleton(container, store);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            $"{connectionName}-{container}",
            _ => new BlobStoreHealthCheck(store),
            HealthStatus.Unhealthy,
            [HealthCheckTags.Ready, "blobs"],
            HealthCheckTimeout));
        return builder;
    }

    /// <summary>
    /// The blob store every service shares: <c>ConnectionStrings:blobs</c>, container <c>CremaD:BlobContainer</c>
    /// (default <see cref="DefaultBlobContainer"/>).
    /// </summary>
    public static TBuilder AddCremaDSharedBlobStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDBlobStore(container: builder.Configuration[BlobContainerKey] ?? DefaultBlobContainer);
        return builder;
    }
}
