using Aspire.Hosting.ApplicationModel;
using CremaD.LocalInfrastructure;

namespace CremaD.AppHost.Infrastructure;

/// <summary>
/// Azurite in a container (Aspire.Hosting.Azure.Storage, which would provide it, is not served here). Used when a
/// container runtime answers; written, and untested on our machines, which have no container runtime.
/// </summary>
public sealed class AzuriteContainerResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    public const string BlobEndpointName = "blob";

    public ReferenceExpression ConnectionStringExpression
    {
        get
        {
            var blob = new EndpointReference(this, BlobEndpointName);
            return ReferenceExpression.Create(
                $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};BlobEndpoint=http://127.0.0.1:{blob.Property(EndpointProperty.Port)}/{AzuriteInstance.AccountName};");
        }
    }
}

public static class ContainerInfrastructureExtensions
{
    /// <summary>The Azurite image Microsoft publishes, pinned to the release our npm lock pins.</summary>
    public static IResourceBuilder<AzuriteContainerResource> AddAzuriteContainer(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new AzuriteContainerResource(name))
            .WithImage("azure-storage/azurite", "3.35.0")
            .WithImageRegistry("mcr.microsoft.com")
            .WithArgs("azurite-blob", "--blobHost", "0.0.0.0", "--skipApiVersionCheck", "--disableTelemetry", "--loose")
            .WithEndpoint(targetPort: 10000, name: AzuriteContainerResource.BlobEndpointName, scheme: "http")
            .ExcludeFromManifest();
}
