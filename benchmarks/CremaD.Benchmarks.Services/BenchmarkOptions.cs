using System.Globalization;
using CremaD.Contracts;
using CremaD.LocalInfrastructure;

namespace CremaD.Benchmarks.Services;

/// <summary>A command-line argument the benchmark cannot use; the message says which and why.</summary>
public sealed class BenchmarkUsageException(string message) : Exception(message);

/// <summary>What to measure (see <see cref="Usage"/>).</summary>
public sealed record BenchmarkOptions
{
    /// <summary>The dataset folder (either layout); default the repository's samples/demo.</summary>
    public required string DataRoot { get; init; }

    /// <summary>Maximum epochs; null: the recipe's default (RunConfig, as `cremad run`), early stopping included.</summary>
    public int? Epochs { get; init; } = 3;

    /// <summary>Rounds: each round measures every configuration once; the report gives each figure's median over the rounds.</summary>
    public int Repeat { get; init; } = 3;

    /// <summary>Measure the feature stage only: the distributed run is cancelled once its features are ready; the local side runs the feature stage alone.</summary>
    public bool FeaturesOnly { get; init; }

    /// <summary>
    /// Pin each feature service to a core of its own (taskset; N services on cores 0..N-1) and the local feature stage to
    /// as many cores as the largest count: so that 1 vs 2 services compares 1 vs 2 cores of extraction on a 2-core machine,
    /// where one unpinned service already uses both cores.
    /// </summary>
    public bool PinFeatureServices { get; init; }

    /// <summary>Feature-service process counts to measure, each on a fresh container (features are not reused).</summary>
    public IReadOnlyList<int> FeatureInstances { get; init; } = [1, 2];

    /// <summary>
    /// Clips per shard. Smaller than the service default (256) so that even the demo dataset splits into enough shards
    /// for two feature services to share.
    /// </summary>
    public int ShardSize { get; init; } = 64;

    /// <summary>Clips per pack blob of the dataset upload (<c>cremad dataset upload --pack-clips</c>); 0: one blob per file.</summary>
    public int PackClips { get; init; } = CremaD.BlobStaging.DatasetPacks.DefaultClipsPerPack;

    /// <summary>Threads of the trainer, the evaluation service and the local run; null: every core.</summary>
    public int? Threads { get; init; }

    /// <summary>Skip the local `cremad run` (no overhead ratio).</summary>
    public bool SkipLocal { get; init; }

    /// <summary>Print the results as JSON (only) on standard output.</summary>
    public bool Json { get; init; }

    /// <summary>Also write the JSON results to this file.</summary>
    public string? OutputFile { get; init; }

    /// <summary>Measure a cross-validation sweep of this many folds instead of one run (<see cref="SweepBenchmark"/>); 0: no sweep.</summary>
    public int SweepFolds { get; init; }

    /// <summary>Trainer-replica counts a sweep is measured with, each trainer with cores/N threads.</summary>
    public IReadOnlyList<int> TrainerReplicas { get; init; } = [1, 2];

    /// <summary>Keep the services' logs (their folder is printed) instead of deleting them.</summary>
    public bool KeepLogs { get; init; }

    public const string Usage = """
        cremad-benchmark-services [options]

        Starts a private RabbitMQ and Azurite, uploads a dataset, runs the services as separate processes (runs API,
        N feature services, trainer, evaluation), submits one run per feature-service count on a fresh container and
        repeats every configuration --repeat times, and reports (as medians over the rounds) the feature stage's wall time and clips/s, the run's wall time, each process's peak memory, and the
        distributed/local ratio against the same run through the local pipeline (`cremad run`).

          --data-root DIR           dataset folder (course or official layout); default samples/demo
          --epochs N|default        maximum epochs (default 3); "default": the recipe's own (80, early stopping)
          --repeat N                rounds of every configuration; figures are medians over them (default 3)
          --features-only           measure the feature stage only (the runs are cancelled once features are ready)
          --pin-feature-services    each feature service on a core of its own (taskset), the local stage on as many
                                    cores as the most services: 1 vs 2 services = 1 vs 2 cores of extraction
          --feature-instances LIST  feature-service processes to measure, e.g. 1,2 (default 1,2)
          --shard-size N            clips per feature shard (default 64)
          --pack-clips N            clips per pack blob of the dataset upload (default 256); 0: one blob per file
          --threads N               threads for training and evaluation, both paths (default: every core)
          --skip-local              do not run the local pipeline (no overhead ratio)
          --json                    print the results as JSON only
          --out FILE                also write the JSON results to FILE
          --sweep K                 instead: a K-fold cross-validation sweep (POST /sweeps) per trainer-replica count,
                                    reporting its wall time, how many folds trained at once, and which replica trained each
          --trainer-replicas LIST   trainer processes for --sweep, each with cores/N threads (default 1,2)
          --keep-logs               keep the services' logs
          --help                    this text
        """;

    /// <exception cref="BenchmarkUsageException">An unknown option or a bad value.</exception>
    /// <returns>Null when help was asked for.</returns>
    public static BenchmarkOptions? Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions { DataRoot = Path.Combine(RepositoryRoot.Find(), "samples", "demo") };
        for (var i = 0; i < args.Count; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Count) throw new BenchmarkUsageException($"{args[i]} needs a value.");
                return args[++i];
            }

            int Positive(string name, string text) =>
                int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1
                    ? n
                    : throw new BenchmarkUsageException($"{name} must be a whole number of at least 1, got '{text}'.");

            var arg = args[i];
            options = arg switch
            {
                "--help" or "-h" => null,
                "--data-root" => options with { DataRoot = Path.GetFullPath(Value()) },
                "--epochs" => options with { Epochs = Value() is "default" ? null : Positive(arg, args[i]) },
                "--repeat" => options with { Repeat = Positive(arg, Value()) },
                "--features-only" => options with { FeaturesOnly = true },
                "--pin-feature-services" => options with { PinFeatureServices = true },
                "--feature-instances" => options with
                {
                    FeatureInstances = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(n => Positive(arg, n)).ToList() is { Count: > 0 } counts
                        ? counts
                        : throw new BenchmarkUsageException("--feature-instances needs at least one count, e.g. 1,2."),
                },
                "--shard-size" => options with { ShardSize = Positive(arg, Value()) },
                "--pack-clips" => options with
                {
                    PackClips = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var pack)
                        ? pack
                        : throw new BenchmarkUsageException($"--pack-clips must be a whole number (0: one blob per file), got '{args[i]}'."),
                },
                "--threads" => options with { Threads = Positive(arg, Value()) },
                "--skip-local" => options with { SkipLocal = true },
                "--json" => options with { Json = true },
                "--out" => options with { OutputFile = Path.GetFullPath(Value()) },
                "--keep-logs" => options with { KeepLogs = true },
                "--sweep" => options with
                {
                    SweepFolds = Positive(arg, Value()) is var folds and >= 3 and <= FoldRef.MaxCount
                        ? folds
                        : throw new BenchmarkUsageException($"--sweep needs 3..{FoldRef.MaxCount} folds, got {args[i]}."),
                },
                "--trainer-replicas" => options with
                {
                    TrainerReplicas = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(n => Positive(arg, n)).ToList() is { Count: > 0 } replicas
                        ? replicas
                        : throw new BenchmarkUsageException("--trainer-replicas needs at least one count, e.g. 1,2."),
                },
                _ => throw new BenchmarkUsageException($"unknown option '{arg}' (--help lists them)."),
            };
            if (options is null) return null;
        }
        if (options.PinFeatureServices && options.FeatureInstances.Max() > Environment.ProcessorCount)
        {
            throw new BenchmarkUsageException($"--pin-feature-services needs a core per feature service; this machine has {Environment.ProcessorCount}.");
        }
        if (!Directory.Exists(options.DataRoot)) throw new BenchmarkUsageException($"{options.DataRoot}: no such dataset folder.");
        return options;
    }
}
