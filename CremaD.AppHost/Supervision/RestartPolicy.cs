using System.Collections.Concurrent;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.AppHost.Supervision;

/// <summary>Marks a resource that is started again when its process exits on its own.</summary>
public sealed class RestartOnExitAnnotation : IResourceAnnotation;

public static class RestartPolicyExtensions
{
    /// <summary>
    /// Restart this resource (every replica) when its process exits without being asked to: after 1, 2, 4 … 30 s,
    /// the delay starting again at 1 s once a replica has run for a minute. A stop from the dashboard is respected.
    /// Aspire has no restart policy for executables and projects (the dashboard offers a manual Start only).
    /// </summary>
    public static IResourceBuilder<T> WithRestartOnExit<T>(this IResourceBuilder<T> builder) where T : IResource
    {
        builder.ApplicationBuilder.Services.AddHostedService<RestartSupervisor>();
        return builder.WithAnnotation(new RestartOnExitAnnotation(), ResourceAnnotationMutationBehavior.Replace);
    }
}

/// <summary>
/// Watches Aspire's resource notifications and runs the resource's own start command (the one the dashboard's Start
/// button runs) for a replica that exited on its own. Each restart is written to the replica's console log in the
/// dashboard with the exit code, and counted in its "Restarts" property.
/// </summary>
/// <remarks>
/// The watch begins in <see cref="StartingAsync"/>, before any hosted service's StartAsync, because Aspire's
/// orchestrator does not return from its StartAsync until every resource has been created, and the services are
/// created only when the infrastructure they wait for is healthy. Started as an ordinary hosted service, this
/// supervisor missed a broker that failed while booting (found when a port clash made RabbitMQ exit 7 s after start:
/// the services then waited for it forever).
/// </remarks>
public sealed class RestartSupervisor(ResourceNotificationService notifications, ResourceCommandService commands,
    ResourceLoggerService resourceLogs, IHostApplicationLifetime lifetime, ILogger<RestartSupervisor> logger) : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watch;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _watch = Task.Run(() => ExecuteAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watch is not null) await _watch.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    /// <summary>The longest wait before a restart.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>A replica that ran this long before exiting is restarted after the shortest delay again.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    public const string RestartsProperty = "cremad.restarts";

    private readonly ConcurrentDictionary<string, Replica> _replicas = new(StringComparer.Ordinal);

    /// <summary>The delay before restart number <paramref name="consecutive"/> (1-based) of a replica that keeps crashing.</summary>
    public static TimeSpan DelayBefore(int consecutive) =>
        TimeSpan.FromSeconds(Math.Min(MaxDelay.TotalSeconds, Math.Pow(2, Math.Clamp(consecutive - 1, 0, 16))));

    private async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                if (!update.Resource.Annotations.OfType<RestartOnExitAnnotation>().Any()) continue;
                var state = update.Snapshot.State?.Text;
                var replica = _replicas.GetOrAdd(update.ResourceId, _ => new Replica());
                lock (replica)
                {
                    var previous = replica.State;
                    replica.State = state;
                    if (state == KnownResourceStates.Running && previous != KnownResourceStates.Running) replica.RunningSince = DateTimeOffset.UtcNow;
                    if (state == KnownResourceStates.Stopping) replica.StopRequested = true;
                    if (state is "Starting" or "Waiting") replica.StopRequested = false;
                    var exited = state is not null && KnownResourceStates.TerminalStates.Contains(state) && previous is not null
                                 && !KnownResourceStates.TerminalStates.Contains(previous);
                    if (!exited || replica.StopRequested || lifetime.ApplicationStopping.IsCancellationRequested || replica.RestartPending) continue;
                    var ranFor = replica.RunningSince is { } since ? DateTimeOffset.UtcNow - since : TimeSpan.Zero;
                    replica.Consecutive = ranFor >= StableAfter ? 1 : replica.Consecutive + 1;
                    replica.Restarts++;
                    replica.RestartPending = true;
                    var delay = DelayBefore(replica.Consecutive);
                    var message = $"{update.ResourceId} exited on its own (state {state}, exit code {update.Snapshot.ExitCode?.ToString() ?? "unknown"}) " +
                                  $"after {ranFor.TotalSeconds:0} s; restart #{replica.Restarts} in {delay.TotalSeconds:0} s";
                    resourceLogs.GetLogger(update.ResourceId).LogWarning("{Message}", message);
                    logger.LogWarning("{Message}", message);
                    _ = RestartAsync(update.Resource, update.ResourceId, replica, delay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RestartAsync(IResource resource, string resourceId, Replica replica, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                int restarts;
                lock (replica)
                {
                    // Started meanwhile from the dashboard, or stopped on purpose: nothing to do.
                    if (replica.StopRequested || replica.State is null || !KnownResourceStates.TerminalStates.Contains(replica.State)) break;
                    restarts = replica.Restarts;
                }
                var result = await commands.ExecuteCommandAsync(resourceId, KnownResourceCommands.StartCommand, stoppingToken).ConfigureAwait(false);
                if (result.Success)
                {
                    await notifications.PublishUpdateAsync(resource, resourceId, snapshot => snapshot with
                    {
                        Properties = [.. snapshot.Properties.Where(p => p.Name != RestartsProperty), new ResourcePropertySnapshot(RestartsProperty, restarts)],
                    }).ConfigureAwait(false);
                    break;
                }
                logger.LogWarning("Restarting {Resource} failed ({Error}); trying again in {Delay} s", resourceId, result.Message, MaxDelay.TotalSeconds);
                await Task.Delay(MaxDelay, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            lock (replica) replica.RestartPending = false;
        }
    }

    private sealed class Replica
    {
        public string? State;
        public DateTimeOffset? RunningSince;
        public bool StopRequested;
        public bool RestartPending;
        public int Consecutive;
        public int Restarts;
    }
}
