using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CremaD.Runs;

/// <summary>
/// The runs API: <c>POST /runs</c> submits, <c>GET /runs[?limit=N]</c> (newest first) and <c>GET /runs/{id}</c> show run
/// status (stage, progress, metrics so far, rejected clips, errors, artefacts), <c>GET /runs/{id}/artifacts/{name}</c>
/// streams an artefact. <see cref="RunsUi"/> is the web page over these endpoints.
/// </summary>
public static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var runs = endpoints.MapGroup("/runs");
        runs.MapPost("/", SubmitAsync);
        runs.MapGet("/", ListAsync);
        runs.MapGet("/{runId:guid}", async (Guid runId, RunStateStore states, CancellationToken ct) =>
            await states.GetAsync(runId, ct) is { } status ? Results.Json(status, ServiceJson.Options) : NotFound(runId));
        runs.MapGet("/{runId:guid}/artifacts/{name}", GetArtifactAsync);
        runs.MapPost("/{runId:guid}/cancel", CancelAsync);
        return endpoints;
    }

    private static async Task<IResult> SubmitAsync(SubmitRunRequest request, RunStateStore states, ISendEndpointProvider sender,
        CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Dataset))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["dataset"] = ["dataset is required: a dataset name or a blob prefix ending with '/'."] });
        }
        string prefix;
        try
        {
            prefix = BlobDataset.PrefixOf(request.Dataset);
        }
        catch (ArgumentException e)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["dataset"] = [e.Message] });
        }
        var command = new SubmitRun(Guid.NewGuid(), new DatasetRef(prefix, request.Layout, request.SplitSeed), request.Config ?? RunConfig.Default,
            DateTimeOffset.UtcNow, request.Name);
        var problems = command.FindProblems();
        if (problems.Count > 0) return Results.ValidationProblem(new Dictionary<string, string[]> { ["run"] = [.. problems] });

        // The status exists from now on, so GET /runs/{id} answers at once; the coordinator plans the run from it.
        await states.UpdateAsync(command.RunId, status => status ?? RunStateStore.Pending(command), ct).ConfigureAwait(false);
        var endpoint = await sender.GetSendEndpoint(new Uri($"queue:{QueueNames.SubmitRun}")).ConfigureAwait(false);
        await endpoint.Send(command, ct).ConfigureAwait(false);
        return Results.Accepted($"/runs/{command.RunId:D}", new SubmitRunResponse(command.RunId, $"/runs/{command.RunId:D}"));
    }

    private static async Task<IResult> ListAsync(int? limit, RunStateStore states, CancellationToken ct)
    {
        if (limit is < 1)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be at least 1, got {limit}."] });
        }
        return Results.Json(await states.ListAsync(limit, ct).ConfigureAwait(false), ServiceJson.Options);
    }

    private static async Task<IResult> CancelAsync(Guid runId, RunStateStore states, ISendEndpointProvider sender, CancellationToken ct)
    {
        var status = await states.GetAsync(runId, ct).ConfigureAwait(false);
        if (status is null) return NotFound(runId);
        if (status.Stage.IsTerminal()) return Results.Conflict(new { error = $"Run {runId:D} has already finished ({status.Stage.ToString().ToLowerInvariant()})." });
        var endpoint = await sender.GetSendEndpoint(new Uri($"queue:{QueueNames.CancelRun}")).ConfigureAwait(false);
        await endpoint.Send(new CancelRun(runId, DateTimeOffset.UtcNow, "requested through the runs API"), ct).ConfigureAwait(false);
        return Results.Accepted($"/runs/{runId:D}", new SubmitRunResponse(runId, $"/runs/{runId:D}"));
    }

    private static async Task<IResult> GetArtifactAsync(Guid runId, string name, RunStateStore states, CancellationToken ct)
    {
        if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name is "." or "..")
        {
            return Results.BadRequest(new { error = $"'{name}' is not an artefact name." });
        }
        var status = await states.GetAsync(runId, ct).ConfigureAwait(false);
        if (status is null) return NotFound(runId);
        // Only ever the run's own artefacts folder, whatever a status read back from storage says.
        var key = BlobLayout.FileKey(BlobLayout.ArtifactsPrefix(runId), name);
        Stream content;
        try
        {
            content = await states.Blobs.OpenReadAsync(key, ct).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return Results.NotFound(new { error = $"Run {runId:D} has no artefact '{name}'." });
        }
        return Results.Stream(content, ContentTypeOf(name), name);
    }

    private static IResult NotFound(Guid runId) => Results.NotFound(new { error = $"No run {runId:D}." });

    private static string ContentTypeOf(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".json" => "application/json",
        ".png" => "image/png",
        ".csv" => "text/csv",
        _ => "application/octet-stream",
    };
}
