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
    /// <summary>The runs API with the run coordinator: blob store, bus with the coordinator's consumers (the host adds the service defaults).</summary>
    public static WebApplicationBuilder AddCremaDRunsApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDSharedBlobStore();
        builder.AddRunCoordinator();
        builder.AddCremaDMessaging(bus => bus.AddRunCoordinatorConsumers());
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

    /// <summary>Maps the runs API and its web UI (<c>/</c>, <c>/ui/…</c>); the host maps /health and /alive.</summary>
    public static WebApplication MapCremaDRunsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapRunsApi();
        app.MapRunsUi();
        return app;
    }

    /// <summary>The feature service: blob store, bus with the shard consumer (the host adds the service defaults).</summary>
    public static WebApplicationBuilder AddCremaDFeatureService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
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
}
