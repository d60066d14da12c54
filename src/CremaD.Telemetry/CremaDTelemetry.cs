using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace CremaD.Telemetry;

/// <summary>
/// The names (and, for the hosts, the instances) of CremaD's ActivitySources and Meters, one per area of work.
/// The hosts' service defaults (CremaD.ServiceDefaults) listen to <see cref="AllSourcesPattern"/>, so any source or
/// meter whose name starts with "CremaD." is collected: a library may also create its own
/// <c>new ActivitySource("CremaD.X")</c> and its spans appear too. Spans about a run carry the tag <see cref="RunIdTag"/>.
/// </summary>
public static class CremaDTelemetry
{
    /// <summary>Wildcard that matches every CremaD source and meter.</summary>
    public const string AllSourcesPattern = "CremaD.*";

    /// <summary>MassTransit's ActivitySource and Meter (publish, send, consume spans; message counters and durations).</summary>
    public const string MassTransitName = "MassTransit";

    /// <summary>Run orchestration: submission, shard planning, stage hand-over (runs API / coordinator).</summary>
    public const string PipelineName = "CremaD.Pipeline";

    /// <summary>Feature extraction and the normalisation reduction (feature service).</summary>
    public const string FeaturesName = "CremaD.Features";

    /// <summary>Model training (trainer service).</summary>
    public const string TrainingName = "CremaD.Training";

    /// <summary>Evaluation on the test partition (evaluation service).</summary>
    public const string EvaluationName = "CremaD.Evaluation";

    /// <summary>Tag with the run id (a GUID in "D" format) on every span and measurement about one run.</summary>
    public const string RunIdTag = "cremad.run_id";

    /// <summary>Tag with a feature shard's index.</summary>
    public const string ShardIndexTag = "cremad.shard_index";

    /// <summary>Tag with a training epoch (1-based).</summary>
    public const string EpochTag = "cremad.epoch";

    /// <summary>Version reported by the sources and meters: the informational version of this assembly.</summary>
    public static string Version { get; } =
        typeof(CremaDTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static ActivitySource Pipeline { get; } = new(PipelineName, Version);
    public static ActivitySource Features { get; } = new(FeaturesName, Version);
    public static ActivitySource Training { get; } = new(TrainingName, Version);
    public static ActivitySource Evaluation { get; } = new(EvaluationName, Version);

    public static Meter PipelineMeter { get; } = new(PipelineName, Version);
    public static Meter FeaturesMeter { get; } = new(FeaturesName, Version);
    public static Meter TrainingMeter { get; } = new(TrainingName, Version);
    public static Meter EvaluationMeter { get; } = new(EvaluationName, Version);

    /// <summary>The sources above, by name.</summary>
    public static IReadOnlyList<string> SourceNames { get; } = [PipelineName, FeaturesName, TrainingName, EvaluationName];

    /// <summary>
    /// Starts a span about run <paramref name="runId"/> on <paramref name="source"/>, tagged with <see cref="RunIdTag"/>;
    /// null when nothing listens. Dispose it when the work ends; on failure call <c>SetStatus(ActivityStatusCode.Error, ...)</c>.
    /// </summary>
    public static Activity? StartRunActivity(this ActivitySource source, string name, Guid runId,
        ActivityKind kind = ActivityKind.Internal)
    {
        ArgumentNullException.ThrowIfNull(source);
        var activity = source.StartActivity(name, kind);
        activity?.SetTag(RunIdTag, runId.ToString("D"));
        return activity;
    }
}
