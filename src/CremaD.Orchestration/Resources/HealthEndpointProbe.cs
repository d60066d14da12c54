namespace CremaD.Orchestration.Resources;

/// <summary>Aspire's health probe of a service: <c>GET /health</c> answers 2xx.</summary>
internal static class HealthEndpointProbe
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(3) };

    public static async Task<bool> IsHealthyAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        // The AppHost's own calls are not part of any run: keep them out of traces (in embedded mode the services'
        // tracer sees every HttpClient call in the process).
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        try
        {
            using var response = await Client.GetAsync(new Uri(endpoint, "/health"), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}
