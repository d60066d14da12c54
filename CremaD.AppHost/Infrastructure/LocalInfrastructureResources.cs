using Aspire.Hosting.ApplicationModel;
using CremaD.LocalInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CremaD.AppHost.Infrastructure;

/// <summary>
/// A private RabbitMQ node (Debian's rabbitmq-server) run by DCP: fixed loopback ports chosen when the AppHost starts
/// (so a restarted node keeps its address and every service its connection string) and a data folder that outlives
/// restarts (durable queues and persistent messages survive a crash of the broker).
/// </summary>
public sealed class LocalRabbitMqResource(string name, string command, string workingDirectory, RabbitMqNode node)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public RabbitMqNode Node { get; } = node;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Node.ConnectionString}");
}

/// <summary>
/// A private Azurite (the repository's npm dependency) run by DCP on fixed loopback ports with its data on disk, so a
/// restarted emulator keeps its blobs.
/// </summary>
public sealed class LocalAzuriteResource(string name, string command, string workingDirectory, int blobPort)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public int BlobPort { get; } = blobPort;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{AzuriteInstance.ConnectionStringFor(BlobPort)}");
}

public static class LocalInfrastructureResourceExtensions
{
    /// <summary>The broker as an executable resource, healthy once it accepts an AMQP connection.</summary>
    public static IResourceBuilder<LocalRabbitMqResource> AddLocalRabbitMq(this IDistributedApplicationBuilder builder, string name,
        AppHostState state)
    {
        var ports = FreePorts.Allocate(3);
        var node = new RabbitMqNode(state.PathOf(name), $"cremad-{Path.GetFileName(state.Directory)}@localhost", ports[0], ports[1], ports[2]);
        node.WriteConfiguration();
        var script = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "rabbitmq-node.sh");
        var healthCheck = $"{name}-amqp";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, async cancellationToken =>
        {
            try
            {
                await RabbitMqNode.CheckAmqpAsync(node.ConnectionString, cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy($"no AMQP connection to {node.ConnectionString}: {e.Message}");
            }
        });
        var environment = node.Environment(Environment.GetEnvironmentVariables().Keys.Cast<string>(), additionalErlangArguments: "-noinput");
        return builder.AddResource(new LocalRabbitMqResource(name, "/bin/bash", node.Directory, node))
            .WithArgs(script)
            .WithEnvironment(context =>
            {
                // A null value cannot be passed to DCP; an empty one disables what the caller's variable would set.
                foreach (var (key, value) in environment) context.EnvironmentVariables[key] = value ?? "";
            })
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }

    /// <summary>Azurite as an executable resource, healthy once its blob endpoint answers HTTP.</summary>
    public static IResourceBuilder<LocalAzuriteResource> AddLocalAzurite(this IDistributedApplicationBuilder builder, string name,
        string launcher, AppHostState state)
    {
        var ports = FreePorts.Allocate(3);
        var directory = state.PathOf(name);
        Directory.CreateDirectory(directory);
        var endpoint = $"http://127.0.0.1:{ports[0]}/{AzuriteInstance.AccountName}?comp=list";
        var healthCheck = $"{name}-http";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, async cancellationToken =>
        {
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
                // Any HTTP answer (an unauthenticated listing gets 403) means the blob service is up.
                using var response = await http.GetAsync(endpoint, cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return HealthCheckResult.Unhealthy($"no answer from {endpoint}: {e.Message}");
            }
        });
        return builder.AddResource(new LocalAzuriteResource(name, launcher, directory, ports[0]))
            .WithArgs([.. AzuriteInstance.Arguments(ports[0], ports[1], ports[2], Path.Combine(directory, "data"))])
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }
}
