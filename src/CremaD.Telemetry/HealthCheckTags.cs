namespace CremaD.Telemetry;

/// <summary>
/// Tags of the health checks a service registers. The hosts' <c>/health</c> runs every check, <c>/alive</c> only the
/// <see cref="Live"/> ones (CremaD.ServiceDefaults maps both).
/// </summary>
public static class HealthCheckTags
{
    /// <summary>The process can serve at all (liveness).</summary>
    public const string Live = "live";

    /// <summary>A dependency (broker, storage): the service is ready only when it passes.</summary>
    public const string Ready = "ready";
}
