using System.Diagnostics;
using CremaD.Orchestration.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>
/// Sends a demo run's stage spans the way the services do: one OpenTelemetry SDK per service (its own
/// <c>service.name</c> and <c>service.instance.id</c>), exported with the real OTLP/HTTP protobuf exporter to the
/// dashboard's receiver. The spans form one trace, timed to match <see cref="DemoRun"/>'s stage timestamps.
/// </summary>
internal static class StageSpans
{
    public static readonly string[] Services = ["runs-api", "feature-service", "trainer-service", "evaluation-service"];

    /// <summary>The span names of the run's trace, as the services name them.</summary>
    public static readonly string[] StageSpanNames = ["POST /runs", "plan run", "feature shard", "normalisation reduce", "train model", "epoch", "evaluate model"];

    public const string RunIdTag = "cremad.run_id";

    /// <summary>Exports the run's trace plus an unrelated failed evaluation; returns the run trace's id.</summary>
    public static string Export(DemoRun run, Uri otlpHttpAddress, string? apiKey)
    {
        // Source names unique to this call: tests run in parallel, and a provider listens to every source of its name.
        var prefix = $"DashboardTests.{Guid.NewGuid():N}"[..27];
        var providers = Services.ToDictionary(s => s, s => Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(s, serviceInstanceId: $"{s}-{Environment.ProcessId}"))
            .AddSource($"{prefix}.{s}")
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(otlpHttpAddress, "v1/traces");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.ExportProcessorType = ExportProcessorType.Batch;
                if (apiKey is not null) o.Headers = $"x-otlp-api-key={apiKey}";
            })
            .Build()!);
        var sources = Services.ToDictionary(s => s, s => new ActivitySource($"{prefix}.{s}", "1.0.0"));
        try
        {
            var traceId = EmitRun(run, sources);
            EmitFailedEvaluation(run.SubmittedAt.AddMinutes(-10), sources);
            foreach (var provider in providers.Values)
            {
                if (!provider.ForceFlush(10_000)) throw new TimeoutException("The OTLP exporter did not flush within 10 s.");
            }
            return traceId;
        }
        finally
        {
            foreach (var source in sources.Values) source.Dispose();
            foreach (var provider in providers.Values) provider.Dispose();
        }
    }

    private static string EmitRun(DemoRun demo, Dictionary<string, ActivitySource> sources)
    {
        var run = demo.Status;
        var t = run.Timestamps;
        var id = run.RunId.ToString("D");
        var runTag = new KeyValuePair<string, object?>(RunIdTag, id);
        Activity.Current = null;

        var post = Span(sources["runs-api"], "POST /runs", ActivityKind.Server, default, t.SubmittedAt.AddMilliseconds(-40), t.SubmittedAt.AddMilliseconds(25),
            [new("http.request.method", "POST"), new("url.path", "/runs"), new("http.route", "/runs"), new("http.response.status_code", 202), runTag]);
        Span(sources["runs-api"], "submit-run send", ActivityKind.Producer, post, t.SubmittedAt.AddMilliseconds(2), t.SubmittedAt.AddMilliseconds(18),
            [new("messaging.system", "rabbitmq"), new("messaging.destination.name", "submit-run"), runTag]);
        var plan = Span(sources["runs-api"], "plan run", ActivityKind.Consumer, post, t.SubmittedAt.AddMilliseconds(60), t.FeaturesStartedAt!.Value.AddMilliseconds(-80),
            [runTag, new("cremad.clips", run.Features.Clips), new("cremad.shard_count", run.Features.ShardCount)]);
        var shard = Span(sources["feature-service"], "feature shard", ActivityKind.Consumer, plan, t.FeaturesStartedAt.Value, t.FeaturesReadyAt!.Value.AddMilliseconds(-700),
            [runTag, new("cremad.shard_index", 0), new("cremad.clips_extracted", run.Features.ClipsExtracted), new("cremad.clips_rejected", run.Features.ClipsRejected)],
            events: [new ActivityEvent("clip rejected", t.FeaturesStartedAt.Value.AddSeconds(2.1), new ActivityTagsCollection
            {
                ["cremad.clip"] = run.RejectedClips[0].Key,
                ["cremad.reason"] = run.RejectedClips[0].Reason,
            })]);
        Span(sources["feature-service"], "blob upload", ActivityKind.Internal, shard, t.FeaturesReadyAt.Value.AddMilliseconds(-1300), t.FeaturesReadyAt.Value.AddMilliseconds(-720),
            [runTag, new("cremad.blob_key", run.Features.FeatureStorePrefix + "shards/000-of-001.f32"), new("cremad.bytes", 38_771_200)]);
        Span(sources["runs-api"], "normalisation reduce", ActivityKind.Consumer, plan, t.FeaturesReadyAt.Value.AddMilliseconds(-650), t.FeaturesReadyAt.Value.AddMilliseconds(-20),
            [runTag, new("cremad.shards", 1)]);

        var train = Span(sources["trainer-service"], "train model", ActivityKind.Consumer, plan, t.TrainingStartedAt!.Value, t.TrainingCompletedAt!.Value,
            [runTag, new("cremad.device", "cpu"), new("cremad.max_epochs", run.Training.MaxEpochs), new("cremad.best_epoch", run.Training.BestEpoch)]);
        var clock = t.TrainingStartedAt.Value;
        Span(sources["trainer-service"], "blob download features", ActivityKind.Internal, train, clock.AddMilliseconds(30), clock.AddMilliseconds(620), [runTag]);
        clock = clock.AddMilliseconds(700);
        foreach (var epoch in run.Training.History)
        {
            var end = clock.AddSeconds(epoch.Seconds);
            Span(sources["trainer-service"], "epoch", ActivityKind.Internal, train, clock, end,
                [runTag, new("cremad.epoch", epoch.Epoch), new("cremad.train_loss", Math.Round(epoch.TrainLoss, 4)),
                 new("cremad.validation_accuracy", Math.Round(epoch.ValidationAccuracy, 4))]);
            clock = end;
        }
        Span(sources["trainer-service"], "blob upload model", ActivityKind.Internal, train, clock.AddMilliseconds(50), t.TrainingCompletedAt.Value.AddMilliseconds(-30), [runTag]);

        var evaluate = Span(sources["evaluation-service"], "evaluate model", ActivityKind.Consumer, plan, t.TrainingCompletedAt.Value.AddMilliseconds(150), t.EvaluationCompletedAt!.Value,
            [runTag, new("cremad.test_accuracy", Math.Round(run.Evaluation!.Accuracy, 4)), new("cremad.samples", run.Evaluation.Samples)]);
        Span(sources["evaluation-service"], "blob download", ActivityKind.Internal, evaluate, t.TrainingCompletedAt.Value.AddMilliseconds(200), t.TrainingCompletedAt.Value.AddMilliseconds(900), [runTag]);
        Span(sources["evaluation-service"], "blob upload", ActivityKind.Internal, evaluate, t.EvaluationCompletedAt.Value.AddMilliseconds(-600), t.EvaluationCompletedAt.Value.AddMilliseconds(-40), [runTag]);
        return post.TraceId.ToHexString();
    }

    private static void EmitFailedEvaluation(DateTimeOffset at, Dictionary<string, ActivitySource> sources)
    {
        Activity.Current = null;
        var otherRun = new KeyValuePair<string, object?>(RunIdTag, "5d0c7a52-57f5-4a51-9c55-0f2d87c1c0de");
        var evaluate = Span(sources["evaluation-service"], "evaluate model", ActivityKind.Consumer, default, at, at.AddSeconds(2.4), [otherRun],
            status: (ActivityStatusCode.Error, "model.bin is truncated"));
        Span(sources["evaluation-service"], "blob download", ActivityKind.Internal, evaluate, at.AddMilliseconds(30), at.AddSeconds(2.3), [otherRun],
            status: (ActivityStatusCode.Error, "model.bin is truncated"),
            events: [new ActivityEvent("exception", at.AddSeconds(2.3), new ActivityTagsCollection
            {
                ["exception.type"] = "System.IO.InvalidDataException",
                ["exception.message"] = "model.bin is truncated: expected 9437184 bytes, read 4096",
            })]);
    }

    private static ActivityContext Span(ActivitySource source, string name, ActivityKind kind, ActivityContext parent, DateTimeOffset start, DateTimeOffset end,
        KeyValuePair<string, object?>[] tags, (ActivityStatusCode Code, string Message)? status = null, ActivityEvent[]? events = null)
    {
        using var activity = source.StartActivity(name, kind, parent, tags, links: null, startTime: start)
                             ?? throw new InvalidOperationException($"Nothing listens to {source.Name}: the tracer provider was not built.");
        foreach (var e in events ?? []) activity.AddEvent(e);
        if (status is { } s) activity.SetStatus(s.Code, s.Message);
        activity.SetEndTime(end.UtcDateTime);
        return activity.Context;
    }
}
