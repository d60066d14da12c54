using CremaD.Runs;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The wiring of the runs API service (endpoints, web UI, run coordinator), so that its host is a few lines: as in
/// eShop, the host adds the service defaults and maps /health and /alive, this adds and maps the rest.
/// </summary>
public static class RunsServiceRegistration
{
    /// <summary>The runs API with the run coordinator: the shared blob store, the coordinator, the bus with its consumers.</summary>
    public static TBuilder AddCremaDRunsApi<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddCremaDSharedBlobStore().AddRunCoordinator().AddCremaDMessaging(bus => bus.AddRunCoordinatorConsumers());

    /// <summary>
    /// The run coordinator's services (run state store, coordinator, work folder), without the bus: a host adds the
    /// consumers of <see cref="AddRunCoordinatorConsumers"/> to its one bus. Separate from <see cref="AddCremaDRunsApi"/>
    /// so that the all-in-one host can put every service in one process on one bus.
    /// </summary>
    public static TBuilder AddRunCoordinator<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.Services.TryAddSingleton<RunCoordinator>();
        return builder;
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

    /// <summary>Maps the runs API and its web UI (<c>/</c>, <c>/ui/…</c>); the host maps /health and /alive.</summary>
    public static WebApplication MapCremaDRunsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRunsApiRequestLimits();
        app.MapRunsApi();
        app.MapRunsUi();
        return app;
    }
}
