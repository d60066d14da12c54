using CremaD.Services;
using CremaD.Storage;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The wiring of the runs API and the feature service, so that their hosts (and tests) are a few lines.</summary>
public static class CremaDServiceRegistration
{
    /// <summary>Configuration key of the blob container the services share (environment <c>CremaD__BlobContainer</c>).</summary>
    public const string BlobContainerKey = "CremaD:BlobContainer";

    public const string DefaultBlobContainer = "cremad";

    /// <summary>The runs API with the run coordinator: service defaults, blob store, bus with the coordinator's consumers.</summary>
    public static WebApplicationBuilder AddCremaDRunsApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        builder.AddCremaDSharedBlobStore();
        builder.AddRunCoordinator();
        builder.AddCremaDMessaging(bus => bus.AddRunCoordinatorConsumers());
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

    /// <summary>
    /// The run coordinator's services (run state store, coordinator, work folder), without the bus: a host adds the
    /// consumers of <see cref="AddRunCoordinatorConsumers"/> to its one bus. Separate from <see cref="AddCremaDRunsApi"/>
    /// so that the AppHost's embedded mode can put every service in one process on one bus.
    /// </summary>
    public static TBuilder AddRunCoordinator<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.Services.TryAddSingleton<RunCoordinator>();
        return builder;
    }

    /// <summary>Maps /health, /alive, the runs API and its web UI (<c>/</c>, <c>/ui/…</c>).</summary>
    public static WebApplication MapCremaDRunsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapDefaultEndpoints();
        app.MapRunsApi();
        app.MapRunsUi();
        return app;
    }

    /// <summary>The feature service: service defaults, blob store, bus with the shard consumer.</summary>
    public static WebApplicationBuilder AddCremaDFeatureService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        builder.AddCremaDSharedBlobStore();
        builder.AddFeatureShardProcessing();
        builder.AddCremaDMessaging(bus => bus.AddFeatureShardConsumer());
        return builder;
    }

    /// <summary>The feature-shard processor, without the bus (the host adds <see cref="ExtractFeatureShardConsumer"/>).</summary>
    public static TBuilder AddFeatureShardProcessing<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(provider => new FeatureShardProcessor(provider.GetRequiredService<IBlobStore>()));
        return builder;
    }

    /// <summary>The feature service's consumer (queue extract-feature-shard), with its definition (shards at once = cores).</summary>
    public static IBusRegistrationConfigurator AddFeatureShardConsumer(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<ExtractFeatureShardConsumer, ExtractFeatureShardConsumerDefinition>();
        return bus;
    }

    /// <summary>The coordinator's consumers (queues submit-run, cancel-run, run-events, run-command-faults).</summary>
    public static IBusRegistrationConfigurator AddRunCoordinatorConsumers(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<SubmitRunConsumer>();
        bus.AddConsumer<CancelRunConsumer>();
        bus.AddConsumer<RunEventsConsumer>();
        bus.AddConsumer<RunCommandFaultsConsumer>();
        return bus;
    }

    /// <summary>
    /// <see cref="ServiceWorkOptions"/> from <c>CremaD:WorkDirectory</c>, by default a folder of the application's name
    /// under the temporary directory.
    /// </summary>
    public static TBuilder AddCremaDWork<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var directory = builder.Configuration[ServiceWorkOptions.ConfigurationKey];
        if (string.IsNullOrWhiteSpace(directory))
        {
            directory = Path.Combine(Path.GetTempPath(), "cremad-work", builder.Environment.ApplicationName);
        }
        builder.Services.TryAddSingleton(new ServiceWorkOptions(Path.GetFullPath(directory)));
        return builder;
    }
}
