using System.Reflection;
using Aspire.Hosting.ApplicationModel;
using CremaD.AppHost.Supervision;
using Microsoft.Extensions.Configuration;

namespace CremaD.AppHost.Infrastructure;

/// <summary>The messaging and blob resources the plan chose, as the services reference them.</summary>
/// <param name="Messaging">Null in embedded mode (in-memory transport).</param>
public sealed record CremaDInfrastructure(
    InfrastructurePlan Plan,
    IResourceBuilder<IResourceWithConnectionString>? Messaging,
    IResourceBuilder<IResourceWithConnectionString> Blobs);

public static class InfrastructureResourceExtensions
{
    /// <summary>The checkout this AppHost was built from (demo dataset, node_modules).</summary>
    public static string RepositoryRoot { get; } =
        typeof(InfrastructureResourceExtensions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "CremaD.RepositoryRoot").Value!;

    /// <summary>
    /// Chooses and declares <c>messaging</c> and <c>blobs</c>, printing the choice and the reasons. When publishing
    /// (the Aspire manifest for azd) RabbitMQ is a container and blobs a connection string, whatever this machine has.
    /// </summary>
    public static CremaDInfrastructure AddCremaDInfrastructure(this IDistributedApplicationBuilder builder, AppHostMode mode, AppHostState state)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            var published = new InfrastructurePlan(false, InfrastructureSource.Container, InfrastructureSource.Configuration, ["publishing"]);
            return new CremaDInfrastructure(published, builder.AddRabbitMQ(InfrastructureSelector.Messaging),
                builder.AddConnectionString(InfrastructureSelector.Blobs));
        }

        var configured = builder.Configuration.GetSection("ConnectionStrings").GetChildren()
            .Where(c => !string.IsNullOrWhiteSpace(c.Value)).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        var plan = InfrastructureSelector.Choose(mode, configured, MachineInfrastructure.Detect(RepositoryRoot));
        Console.WriteLine($"CremaD AppHost: {plan.Summary}");
        foreach (var reason in plan.Reasons) Console.WriteLine($"  - {reason}");
        if (plan.Embedded && mode == AppHostMode.Auto) Console.WriteLine($"  {InfrastructureSelector.InstallHint}");

        IResourceBuilder<IResourceWithConnectionString> blobs = plan.Blobs switch
        {
            InfrastructureSource.Configuration => builder.AddConnectionString(InfrastructureSelector.Blobs),
            InfrastructureSource.Container => builder.AddAzuriteContainer(InfrastructureSelector.Blobs).WithRestartOnExit(),
            InfrastructureSource.LocalBinary => builder.AddLocalAzurite(InfrastructureSelector.Blobs,
                MachineInfrastructure.AzuriteLauncher(RepositoryRoot), state).WithRestartOnExit(),
            // The embedded host's local-folder blob store, under the AppHost's working folder.
            _ => builder.AddConnectionString(InfrastructureSelector.Blobs, ReferenceExpression.Create($"{state.PathOf("blobs")}")),
        };
        if (plan.Embedded) return new CremaDInfrastructure(plan, null, blobs);

        IResourceBuilder<IResourceWithConnectionString> messaging = plan.Messaging switch
        {
            InfrastructureSource.Configuration => builder.AddConnectionString(InfrastructureSelector.Messaging),
            InfrastructureSource.Container => builder.AddRabbitMQ(InfrastructureSelector.Messaging).WithRestartOnExit(),
            _ => builder.AddLocalRabbitMq(InfrastructureSelector.Messaging, state).WithRestartOnExit(),
        };
        return new CremaDInfrastructure(plan, messaging, blobs);
    }

    /// <summary>
    /// A service process: references and waits for the infrastructure, has a work folder of its own, runs in
    /// <paramref name="environment"/> (Production unless the developer asked for Development: no developer exception
    /// page, no Development settings), is healthy when its /health answers, and is restarted when it exits on its own.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithCremaDService(this IResourceBuilder<ProjectResource> service,
        CremaDInfrastructure infrastructure, AppHostState state, string environment = "Production")
    {
        // After the launch profile's (which says Development): the last value set wins.
        service.WithEnvironment("ASPNETCORE_ENVIRONMENT", environment).WithEnvironment("DOTNET_ENVIRONMENT", environment);
        if (infrastructure.Messaging is { } messaging)
        {
            service.WithReference(messaging).WaitFor(messaging);
        }
        else
        {
            service.WithEnvironment("Messaging__Transport", "InMemory");
        }
        if (!service.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            // A folder of this AppHost's; in a container the service's default (under its temporary folder) is its own.
            service.WithEnvironment("CremaD__WorkDirectory", state.PathOf("work", service.Resource.Name));
        }
        return service
            .WithReference(infrastructure.Blobs).WaitFor(infrastructure.Blobs)
            .WithEnvironment("MASSTRANSIT_USAGE_TELEMETRY", "false")
            .WithHttpHealthCheck("/health")
            .WithRestartOnExit();
    }
}
