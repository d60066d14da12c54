using System.Text.Json;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Storage;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CremaD.Runs;

/// <summary>
/// Cross-validation sweeps through the runs API: <c>POST /sweeps</c> submits one run per fold of a speaker-independent
/// k-fold cross-validation (<see cref="SubmitSweepRequest"/>); <c>GET /sweeps/{id}</c> shows every fold's run and the
/// mean ± sd over the completed ones (<see cref="SweepStatus"/>); <c>GET /sweeps/{id}/model_card.json</c> and
/// <c>.md</c> merge the folds' model cards (every clip predicted by the fold model that never heard its speaker) once
/// every fold has completed. Each fold is an ordinary run, so the trainer replicas take folds in parallel, and a fold
/// is listed, cancelled and downloaded like any run. Same API key as <c>/runs</c>.
/// </summary>
public static class SweepsApi
{
    private static readonly JsonSerializerOptions Json = ServiceJson.Options;

    public static IEndpointRouteBuilder MapSweepsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var sweeps = endpoints.MapGroup("/sweeps").RequireAuthorization(RunsApiAccess.PolicyName);
        sweeps.MapPost("/", SubmitAsync);
        sweeps.MapGet("/", ListAsync);
        sweeps.MapGet("/{sweepId:guid}", async (Guid sweepId, RunStateStore states, CancellationToken ct) =>
            await ReadAsync(states, sweepId, ct).ConfigureAwait(false) is { } sweep
                ? Results.Json(await StatusAsync(sweep, states, ct).ConfigureAwait(false), Json)
                : NotFound(sweepId));
        sweeps.MapGet("/{sweepId:guid}/model_card.json", (Guid sweepId, RunStateStore states, CancellationToken ct) =>
            ModelCardAsync(sweepId, states, card => Results.Text(card.ToJson(), "application/json"), ct));
        sweeps.MapGet("/{sweepId:guid}/model_card.md", (Guid sweepId, RunStateStore states, CancellationToken ct) =>
            ModelCardAsync(sweepId, states, card => Results.Text(card.ToMarkdown(), "text/markdown"), ct));
        sweeps.MapGet("/{sweepId:guid}/model_card.png", (Guid sweepId, RunStateStore states, CancellationToken ct) =>
            ModelCardAsync(sweepId, states, card => Results.File(ModelCardPng(card), "image/png"), ct));
        return endpoints;
    }

    private static async Task<IResult> SubmitAsync(SubmitSweepRequest request, HttpContext http, RunStateStore states, ISendEndpointProvider sender,
        IOptions<RunsApiAccessOptions> access, ILoggerFactory loggers, CancellationToken ct)
    {
        if (RunsApi.DatasetPrefix(request.Dataset, out var prefix) is { } invalid) return invalid;
        if (request.Folds is < 3 or > FoldRef.MaxCount)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]>
            {
                ["folds"] = [$"folds must be in 3..{FoldRef.MaxCount} (one fold tests, the next validates, the rest train), got {request.Folds}."],
            });
        }
        if (request.Name is { Length: > 200 })
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["name must be at most 200 characters."] });
        var submitter = http.User.Identity?.Name ?? RunsApiAccessOptions.DefaultSubmitter;
        var config = request.Config ?? RunConfig.Default;
        var now = DateTimeOffset.UtcNow;
        var label = request.Name ?? "cross-validation";
        var commands = Enumerable.Range(1, request.Folds).Select(fold => new SubmitRun(Guid.NewGuid(),
            new DatasetRef(prefix, request.Layout, request.SplitSeed, request.LabelsFrom, new FoldRef(fold, request.Folds, request.FoldSeed)),
            config, now, $"{label} (fold {fold} of {request.Folds})", submitter)).ToList();
        var problems = commands.SelectMany(c => c.FindProblems()).Distinct().ToList();
        if (problems.Count > 0) return Results.ValidationProblem(new Dictionary<string, string[]> { ["sweep"] = [.. problems] });

        // A sweep takes one in-flight slot per fold: all of them, or none.
        var limit = access.Value.MaxRunsInFlightPerSubmitter;
        var inFlight = await states.ListInFlightAsync(submitter, ct).ConfigureAwait(false);
        var busy = inFlight.Count == 0 ? 0 : await RunsApi.CountInFlightAsync(states, inFlight, ct).ConfigureAwait(false);
        if (busy + commands.Count > limit)
        {
            return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many runs in flight",
                detail: $"A {commands.Count}-fold sweep needs {commands.Count} runs; submitter '{submitter}' has {busy} in flight and at most {limit} may be at once.",
                extensions: new Dictionary<string, object?> { ["field"] = "submitter", ["limit"] = limit });
        }

        var sweep = new SweepRecord(Guid.NewGuid(), request.Name, prefix, request.Folds, request.FoldSeed, config,
            commands.Select(c => c.RunId).ToList(), now, submitter);
        // The record first: a sweep whose runs exist is always findable. Then its index entry (an entry without a
        // record is skipped by the list, so the order only matters for the runs).
        await states.Blobs.UploadAsync(BlobLayout.SweepKey(sweep.SweepId), new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(sweep, Json)),
            cancellationToken: ct).ConfigureAwait(false);
        await states.Blobs.WriteBytesAsync(BlobLayout.SweepIndexKey(sweep.SweepId, sweep.SubmittedAt), Array.Empty<byte>(), cancellationToken: ct)
            .ConfigureAwait(false);
        foreach (var command in commands) await RunsApi.StoreAndSendAsync(command, states, sender, loggers, ct).ConfigureAwait(false);
        return Results.Accepted($"/sweeps/{sweep.SweepId:D}", new SubmitSweepResponse(sweep.SweepId, $"/sweeps/{sweep.SweepId:D}", sweep.RunIds));
    }

    /// <summary>Sweeps per answer of <c>GET /sweeps</c> when the request names no limit, and the most it may name.</summary>
    public const int DefaultPageSize = 20;

    /// <summary>Each sweep listed reads every fold's status, so a page is smaller than the runs API's.</summary>
    public const int MaxPageSize = 100;

    /// <summary><c>GET /sweeps[?limit=N]</c>: the newest <c>limit</c> sweeps, newest submission first, each with its folds' status.</summary>
    private static async Task<IResult> ListAsync(int? limit, RunStateStore states, CancellationToken ct)
    {
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be in [1, {MaxPageSize}], got {limit}."] });
        }
        var keys = new List<string>();
        await foreach (var blob in states.Blobs.ListAsync(BlobLayout.SweepIndexPrefix, ct).ConfigureAwait(false)) keys.Add(blob.Key);
        keys.Sort(StringComparer.Ordinal);
        var listed = new List<SweepStatus>();
        foreach (var sweepId in keys.Select(BlobLayout.SweepIdOfIndexKey).OfType<Guid>().Distinct())
        {
            if (listed.Count == size) break;
            if (await ReadAsync(states, sweepId, ct).ConfigureAwait(false) is { } sweep)
                listed.Add(await StatusAsync(sweep, states, ct).ConfigureAwait(false));
        }
        return Results.Json(listed, Json);
    }

    private static async Task<SweepRecord?> ReadAsync(RunStateStore states, Guid sweepId, CancellationToken ct)
    {
        var content = await states.Blobs.TryReadAllAsync(BlobLayout.SweepKey(sweepId), ct).ConfigureAwait(false);
        return content is null ? null : JsonSerializer.Deserialize<SweepRecord>(content.Content.Span, Json);
    }

    /// <summary>Every fold's run and the statistics over the completed ones.</summary>
    public static async Task<SweepStatus> StatusAsync(SweepRecord sweep, RunStateStore states, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(states);
        var folds = new List<SweepFoldStatus>();
        for (var i = 0; i < sweep.RunIds.Count; i++)
        {
            var status = await states.GetAsync(sweep.RunIds[i], ct).ConfigureAwait(false);
            folds.Add(new SweepFoldStatus(i + 1, sweep.RunIds[i], status?.Stage ?? RunStage.Submitted, status?.Progress ?? 0,
                status?.Evaluation?.Accuracy, status?.Evaluation?.MacroF1, status?.Training.Worker));
        }
        var done = folds.Where(f => f.Stage == RunStage.Completed && f.Accuracy is not null).ToList();
        var stage = done.Count == folds.Count ? RunStage.Completed
            : folds.Any(f => f.Stage is RunStage.Failed or RunStage.Cancelled) ? RunStage.Failed
            : folds.Min(f => f.Stage);
        return new SweepStatus(sweep.SweepId, sweep.Name, sweep.Dataset, sweep.Folds, sweep.FoldSeed, sweep.Config, stage, done.Count, folds,
            Mean(done.Select(f => f.Accuracy!.Value)), Sd(done.Select(f => f.Accuracy!.Value)),
            Mean(done.Select(f => f.MacroF1!.Value)), Sd(done.Select(f => f.MacroF1!.Value)), sweep.SubmittedAt, sweep.Submitter);
    }

    private static async Task<IResult> ModelCardAsync(Guid sweepId, RunStateStore states, Func<ModelCard, IResult> render, CancellationToken ct)
    {
        var sweep = await ReadAsync(states, sweepId, ct).ConfigureAwait(false);
        if (sweep is null) return NotFound(sweepId);
        var status = await StatusAsync(sweep, states, ct).ConfigureAwait(false);
        if (status.Stage != RunStage.Completed)
        {
            return Results.Conflict(new { error = $"Sweep {sweepId:D} has {status.CompletedFolds} of {status.Folds} folds completed; the merged model card needs all of them." });
        }
        var speakers = new List<SpeakerPrediction>();
        foreach (var runId in sweep.RunIds)
        {
            // The artefact the run's status lists, but only ever inside the run's own folder (as GET /runs/{id}/artifacts).
            var run = await states.GetAsync(runId, ct).ConfigureAwait(false);
            var listed = run?.Artifacts.FirstOrDefault(a => a.Name == PredictionsName)?.Key;
            var key = listed is not null && listed.StartsWith(BlobLayout.RunPrefix(runId), StringComparison.Ordinal)
                      && BlobLayout.FindPathProblem(listed, isPrefix: false) is null
                ? listed
                : BlobLayout.FileKey(BlobLayout.ArtifactsPrefix(runId), PredictionsName);
            var content = await states.Blobs.TryReadAllAsync(key, ct).ConfigureAwait(false);
            if (content is null) return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Fold predictions missing",
                detail: $"Run {runId:D} completed but has no {PredictionsName}; its fold cannot enter the merged model card.");
            try
            {
                speakers.AddRange(PredictionsFile.Read(System.Text.Encoding.UTF8.GetString(content.Content.Span), key, Emotions.Names));
            }
            catch (InvalidDataException e)
            {
                return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Fold predictions unreadable", detail: e.Message);
            }
        }
        var subject = new ModelCardSubject($"{WireName(sweep.Config.Model)} (cross-validation: one model per fold)",
            JsonSerializer.SerializeToElement(sweep.Config.ToFlags()), null,
            $"all {sweep.Folds} folds' test speakers of {sweep.Dataset} (each clip predicted by the fold model that never heard its speaker)");
        return render(ModelCard.Build(subject, speakers, Emotions.Names, ActorDemographics.CremaD, ActorDemographics.BuiltInSource));
    }

    // The plot library writes files: the picture goes through a private temporary file.
    private static byte[] ModelCardPng(ModelCard card)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cremad-sweep-card-{Guid.NewGuid():N}.png");
        try
        {
            Plots.SaveModelCard(card, path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The evaluation's per-clip predictions (CremaD.Pipeline.RunFiles.Predictions).</summary>
    public const string PredictionsName = "test_predictions.csv";

    private static string WireName(RunModel model) => model == RunModel.Seed ? "seed" : "statpool";

    private static IResult NotFound(Guid sweepId) => Results.NotFound(new { error = $"No sweep {sweepId:D}." });

    private static double? Mean(IEnumerable<double> values) => values.ToList() is { Count: > 0 } list ? list.Average() : null;

    private static double? Sd(IEnumerable<double> values)
    {
        var list = values.ToList();
        if (list.Count == 0) return null;
        if (list.Count == 1) return 0;
        var mean = list.Average();
        return Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1));
    }
}
