namespace CremaD.Datasets;

/// <summary>How <see cref="FeatureStage.RunAsync"/> runs.</summary>
public sealed record FeatureStageOptions
{
    /// <summary>Worker threads, each with its own extractor; default one per processor.</summary>
    public int NumWorkers { get; init; } = Environment.ProcessorCount;

    /// <summary>Ignore what the store already holds and extract every clip again.</summary>
    public bool Force { get; init; }

    /// <summary>How often progress is reported.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>Where a running feature stage is.</summary>
/// <param name="Done">Clips finished (extracted, reused or rejected) out of <paramref name="Total"/>.</param>
/// <param name="Phase">"extracting", "normalising" or "writing".</param>
public readonly record struct FeatureProgress(
    int Done,
    int Total,
    int Extracted,
    int Reused,
    int Rejected,
    TimeSpan Elapsed,
    string Phase)
{
    /// <summary>Clips decoded per second so far (reused clips are not counted: they cost nothing).</summary>
    public double ClipsPerSecond => Elapsed.TotalSeconds > 0 ? (Extracted + Rejected) / Elapsed.TotalSeconds : 0;
}

/// <summary>Wall-clock time per phase, and time summed over workers per step of the per-clip work.</summary>
public sealed record FeatureStageTimings(
    double PlanSeconds,
    double ExtractSeconds,
    double NormalisationSeconds,
    double WriteSeconds,
    double WorkerReadSeconds,
    double WorkerFeatureSeconds,
    double WorkerStatsSeconds,
    double WorkerWriteSeconds);

/// <summary>What a feature-stage run did.</summary>
/// <param name="Clips">Clips in the store after the run.</param>
/// <param name="Extracted">Clips decoded and written by this run.</param>
/// <param name="Reused">Clips whose stored features were still valid.</param>
/// <param name="Rejected">Clips left out (bad audio or bad file name), including ones rejected by an earlier run.</param>
/// <param name="Removed">Clips dropped from the store because they left the dataset.</param>
/// <param name="UpToDate">True when the store already matched the dataset and nothing was written.</param>
/// <param name="Seconds">Wall-clock time of the run.</param>
/// <param name="ClipsPerSecond">Clips decoded (extracted or newly rejected) per second of <paramref name="Seconds"/>.</param>
/// <param name="AudioSeconds">Duration of the audio extracted by this run.</param>
public sealed record FeatureStageResult(
    string OutputDir,
    int Clips,
    int Extracted,
    int Reused,
    int Rejected,
    int Removed,
    bool NormalisationRecomputed,
    bool UpToDate,
    double Seconds,
    double ClipsPerSecond,
    double AudioSeconds,
    string DatasetFingerprint,
    FeatureStageTimings Timings,
    IReadOnlyList<RejectedClip> RejectedClips);
