using System.Net.Http.Json;
using CremaD.Contracts;

namespace CremaD.Runs.Client;

/// <summary>
/// The AppHost's client of the runs API: submit a run, read its status, download its artefacts. Its calls are not traced
/// (in embedded mode the services' tracer would otherwise record them): a run's trace starts at the runs API's
/// <c>POST /runs</c>, as it does for any other client.
/// </summary>
public sealed class RunsClient(HttpClient http)
{
    /// <summary>An HttpClient for the runs API at <paramref name="baseAddress"/> that sends <paramref name="apiKey"/> as its bearer token.</summary>
    public static HttpClient CreateHttpClient(Uri baseAddress, string apiKey, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    public async Task<Guid> SubmitAsync(SubmitRunRequest request, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.PostAsJsonAsync("runs", request, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new InvalidOperationException($"POST {http.BaseAddress}runs answered {(int)response.StatusCode}: {body}");
        }
        var accepted = await response.Content.ReadFromJsonAsync<SubmitRunResponse>(ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        return accepted?.RunId ?? throw new InvalidOperationException("POST /runs answered without a run id.");
    }

    public async Task<RunStatus?> GetAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.GetAsync($"runs/{runId:D}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<RunStatus>(ServiceJson.Options, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RunStatus>> ListAsync(CancellationToken cancellationToken, int? limit = null)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.GetAsync(limit is { } n ? $"runs?limit={n}" : "runs", cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<List<RunStatus>>(ServiceJson.Options, cancellationToken).ConfigureAwait(false) ?? [];
    }

    /// <summary>Submits a cross-validation sweep (one run per fold).</summary>
    public async Task<SubmitSweepResponse> SubmitSweepAsync(SubmitSweepRequest request, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.PostAsJsonAsync("sweeps", request, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<SubmitSweepResponse>(ServiceJson.Options, cancellationToken).ConfigureAwait(false)
               ?? throw new InvalidOperationException("POST /sweeps answered without a sweep.");
    }

    public async Task<SweepStatus?> GetSweepAsync(Guid sweepId, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.GetAsync($"sweeps/{sweepId:D}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<SweepStatus>(ServiceJson.Options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest sweeps, newest submission first (at most <paramref name="limit"/>; the API's default: 20).</summary>
    public async Task<IReadOnlyList<SweepStatus>> ListSweepsAsync(CancellationToken cancellationToken, int? limit = null)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.GetAsync(limit is { } n ? $"sweeps?limit={n}" : "sweeps", cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<List<SweepStatus>>(ServiceJson.Options, cancellationToken).ConfigureAwait(false) ?? [];
    }

    /// <summary>The sweep's merged model card, as JSON (<paramref name="markdown"/>: as Markdown).</summary>
    public async Task<string> GetSweepModelCardAsync(Guid sweepId, bool markdown, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.GetAsync($"sweeps/{sweepId:D}/model_card.{(markdown ? "md" : "json")}", cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Asks the runs API to cancel the run; false when it has already finished (409).</summary>
    public async Task<bool> CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        using var response = await http.PostAsync($"runs/{runId:D}/cancel", null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Conflict) return false;
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Throws with the API's own words (its ProblemDetails or error body) when the answer is not a success.</summary>
    private async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        throw new InvalidOperationException($"{response.RequestMessage?.Method} {http.BaseAddress}{response.RequestMessage?.RequestUri?.PathAndQuery.TrimStart('/')} " +
                                            $"answered {(int)response.StatusCode}: {(body.Length > 2000 ? body[..2000] : body)}");
    }

    /// <summary>Writes every artefact of <paramref name="status"/> into <paramref name="directory"/>, plus its final status as <c>status.json</c>.</summary>
    /// <returns>The files written.</returns>
    public async Task<IReadOnlyList<string>> DownloadArtifactsAsync(RunStatus status, string directory, CancellationToken cancellationToken)
    {
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var artifact in status.Artifacts)
        {
            var target = Path.Combine(directory, artifact.Name);
            using var response = await http.GetAsync($"runs/{status.RunId:D}/artifacts/{Uri.EscapeDataString(artifact.Name)}",
                HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var partial = target + ".partial";
            await using (var file = File.Create(partial))
            {
                await response.Content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
            File.Move(partial, target, overwrite: true);
            written.Add(target);
        }
        var statusFile = Path.Combine(directory, "status.json");
        await File.WriteAllTextAsync(statusFile, System.Text.Json.JsonSerializer.Serialize(status, ServiceJson.Options), cancellationToken).ConfigureAwait(false);
        written.Add(statusFile);
        return written;
    }
}
