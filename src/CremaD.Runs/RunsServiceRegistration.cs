using CremaD.Runs;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
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
        builder.AddCremaDSharedBlobStore().AddRunCoordinator().AddRunsApiAccess().AddCremaDMessaging(bus => bus.AddRunCoordinatorConsumers());

    /// <summary>
    /// The run coordinator's services (run state store, coordinator, reconciler, work folder), without the bus: a host adds the
    /// consumers of <see cref="AddRunCoordinatorConsumers"/> to its one bus. Separate from <see cref="AddCremaDRunsApi"/>
    /// so that the all-in-one host can put every service in one process on one bus.
    /// </summary>
    public static TBuilder AddRunCoordinator<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.Services.TryAddSingleton<RunCoordinator>();
        // The reconciler re-drives runs that stopped moving (lost messages, dead processes, outages).
        builder.Services.TryAddSingleton(RunReconcilerOptions.FromConfiguration(builder.Configuration));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RunReconciler>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<RunReconciler>());
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

    /// <summary>
    /// Maps the runs API (host filtering, API key, body limits: see <see cref="RunsApiAccess"/>) and its web UI (<c>/</c>,
    /// <c>/ui/…</c>); the host maps /health and /alive. Needs <see cref="RunsApiAccess.AddRunsApiAccess"/>.
    /// </summary>
    public static WebApplication MapCremaDRunsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Order matters: hosts are checked first, then the API key (so a caller without one learns nothing, not even a
        // size limit), then the body limits, then the endpoint.
        app.UseRunsApiHostFiltering();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRunsApiRequestLimits();
        app.MapRunsApi();
        app.MapSweepsApi();
        app.MapRunsUi();
        return app;
    }
}
