using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CremaD.Runs;

/// <summary>
/// The runs API: <c>POST /runs</c> submits, <c>GET /runs[?limit=N&amp;after=ID]</c> (newest first, paged) and <c>GET /runs/{id}</c> show run
/// status (stage, progress, metrics so far, rejected clips, errors, artefacts), <c>GET /runs/{id}/artifacts/{name}</c>
/// streams an artefact. <see cref="RunsUi"/> is the web page over these endpoints.
/// </summary>
public static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // Every endpoint of the API needs a valid API key (RunsApiAccess); only the UI's static files and /health,
        // /alive are open, and they hold no run data.
        var runs = endpoints.MapGroup("/runs").RequireAuthorization(RunsApiAccess.PolicyName);
        runs.MapPost("/", SubmitAsync);
        runs.MapGet("/", ListAsync);
        runs.MapGet("/{runId:guid}", async (Guid runId, RunStateStore states, CancellationToken ct) =>
            await states.GetAsync(runId, ct) is { } status ? Results.Json(status, ServiceJson.Options) : NotFound(runId));
        runs.MapGet("/{runId:guid}/artifacts/{name}", GetArtifactAsync);
        runs.MapPost("/{runId:guid}/cancel", CancelAsync);
        return endpoints;
    }

    /// <summary>
    /// Bounds every request body at <see cref="MaxRequestBodyBytes"/>: one that declares more is refused before it is read
    /// with a ProblemDetails body that says so; one without a declared length is cut off by the server at the limit.
    /// </summary>
    public static IApplicationBuilder UseRunsApiRequestLimits(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength is > MaxRequestBodyBytes and var length)
            {
                await Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large",
                        detail: $"The request body is {length:N0} bytes; at most {MaxRequestBodyBytes:N0} are accepted.")
                    .ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxRequestBodyBytes;
            await next(context).ConfigureAwait(false);
        });
    }

    private static async Task<IResult> SubmitAsync(SubmitRunRequest request, HttpContext http, RunStateStore states, ISendEndpointProvider sender,
        IOptions<RunsApiAccessOptions> access, ILoggerFactory loggers, CancellationToken ct)
    {
        if (DatasetPrefix(request.Dataset, out var prefix) is { } invalid) return invalid;
        var submitter = http.User.Identity?.Name ?? RunsApiAccessOptions.DefaultSubmitter;
        var command = new SubmitRun(Guid.NewGuid(), new DatasetRef(prefix, request.Layout, request.SplitSeed, request.LabelsFrom), request.Config ?? RunConfig.Default,
            DateTimeOffset.UtcNow, request.Name, submitter);
        var problems = command.FindProblems();
        if (problems.Count > 0) return Results.ValidationProblem(new Dictionary<string, string[]> { ["run"] = [.. problems] });

        // The cap counts the submitter's in-flight entries; a stale entry (its run finished but the entry's removal
        // failed) is checked against the run's status before it counts. Submissions racing each other can pass the
        // cap together: it bounds a submitter's load, it is not a quota to the unit.
        var limit = access.Value.MaxRunsInFlightPerSubmitter;
        var inFlight = await states.ListInFlightAsync(submitter, ct).ConfigureAwait(false);
        if (inFlight.Count >= limit && await CountInFlightAsync(states, inFlight, ct).ConfigureAwait(false) >= limit)
        {
            return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many runs in flight",
                detail: $"Submitter '{submitter}' has {inFlight.Count} runs that have not finished; at most {limit} may be in flight at once. " +
                        "Wait for one to finish or cancel one.",
                extensions: new Dictionary<string, object?> { ["field"] = "submitter", ["limit"] = limit });
        }

        await StoreAndSendAsync(command, states, sender, loggers, ct).ConfigureAwait(false);
        return Results.Accepted($"/runs/{command.RunId:D}", new SubmitRunResponse(command.RunId, $"/runs/{command.RunId:D}"));
    }

    /// <summary>The blob prefix of the dataset a request names; a validation problem (returned) when it names none or an invalid one.</summary>
    internal static IResult? DatasetPrefix(string? dataset, out string prefix)
    {
        prefix = "";
        if (string.IsNullOrWhiteSpace(dataset))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["dataset"] = ["dataset is required: a dataset name or a blob prefix ending with '/'."] });
        }
        try
        {
            prefix = BlobDataset.PrefixOf(dataset);
            return null;
        }
        catch (ArgumentException e)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["dataset"] = [e.Message] });
        }
    }

    /// <summary>Stores the run's pending status and sends its SubmitRun; a broker that is down only delays it (the reconciler sends it).</summary>
    internal static async Task StoreAndSendAsync(SubmitRun command, RunStateStore states, ISendEndpointProvider sender, ILoggerFactory loggers,
        CancellationToken ct)
    {
        // The status exists from now on, so GET /runs/{id} answers at once; the coordinator plans the run from it.
        await states.UpdateAsync(command.RunId, status => status ?? RunStateStore.Pending(command), ct).ConfigureAwait(false);
        try
        {
            var endpoint = await sender.GetSendEndpoint(new Uri($"queue:{QueueNames.SubmitRun}")).ConfigureAwait(false);
            await endpoint.Send(command, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The run is stored and in flight: the reconciler sends it when the broker is back (RunReconciler).
            loggers.CreateLogger(typeof(RunsApi)).LogWarning(e, "Run {RunId} is stored but SubmitRun could not be sent now; the reconciler will send it.",
                command.RunId);
        }
    }

    internal static async Task<int> CountInFlightAsync(RunStateStore states, IReadOnlyList<Guid> runIds, CancellationToken ct)
    {
        var count = 0;
        foreach (var runId in runIds)
        {
            var status = await states.GetAsync(runId, ct).ConfigureAwait(false);
            if (status is not null && status.Stage.IsTerminal()) await states.ForgetInFlightAsync(status, ct).ConfigureAwait(false);
            else count++;
        }
        return count;
    }

    /// <summary>Runs per page of <c>GET /runs</c> when the request names no limit, and the most it may name.</summary>
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    /// <summary>The most bytes a request body may hold: a submission is a few hundred.</summary>
    public const int MaxRequestBodyBytes = 64 * 1024;

    /// <summary>
    /// A page of runs, newest first: <c>limit</c> (default <see cref="DefaultPageSize"/>, at most <see cref="MaxPageSize"/>)
    /// runs submitted before the run <c>after</c> names (none: from the newest). A full page carries
    /// <c>Link: &lt;/runs?limit=N&amp;after=ID&gt;; rel="next"</c>.
    /// </summary>
    private static async Task<IResult> ListAsync(int? limit, Guid? after, HttpContext http, RunStateStore states, CancellationToken ct)
    {
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be in [1, {MaxPageSize}], got {limit}."] });
        }
        var page = await states.ListAsync(size, ct, after).ConfigureAwait(false);
        if (page.Count == size) http.Response.Headers.Link = $"</runs?limit={size}&after={page[^1].RunId:D}>; rel=\"next\"";
        return Results.Json(page, ServiceJson.Options);
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
        // The artefact the status lists (the model's files are under model/, the evaluation's under artifacts/), but only
        // ever inside the run's own folder, whatever a status read back from storage says.
        var listed = status.Artifacts.FirstOrDefault(a => a.Name == name)?.Key;
        var key = listed is not null && listed.StartsWith(BlobLayout.RunPrefix(runId), StringComparison.Ordinal)
                  && BlobLayout.FindPathProblem(listed, isPrefix: false) is null
            ? listed
            : BlobLayout.FileKey(BlobLayout.ArtifactsPrefix(runId), name);
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
