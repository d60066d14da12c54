using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CremaD.Storage.Hosting;

/// <summary>
/// Healthy when the blob store answers a listing of its container: the endpoint is reachable, the credentials are
/// accepted and the container exists (the Azure store creates it on first use). The listing is of a prefix that
/// holds no blobs, so it costs one small request however full the container is.
/// </summary>
public sealed class BlobStoreHealthCheck(IBlobStore store) : IHealthCheck
{
    /// <summary>A prefix nothing is written under.</summary>
    public const string ProbePrefix = "health-probe/";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (var _ in store.ListAsync(ProbePrefix, cancellationToken).ConfigureAwait(false))
            {
                break;
            }
            return HealthCheckResult.Healthy($"{store.Location} is reachable.");
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"{store.Location} is not reachable: {e.Message}", e);
        }
    }
}
