using CremaD.AppHost.Infrastructure;
using CremaD.Contracts;

namespace CremaD.AppHost;

/// <summary>
/// The AppHost's own switches, taken out of the command line before Aspire reads the rest (which it treats as
/// configuration: <c>--publisher manifest --output-path FILE</c>, <c>--ConnectionStrings:messaging=...</c>).
/// </summary>
public sealed record AppHostArguments
{
    public AppHostMode Mode { get; init; } = AppHostMode.Auto;

    /// <summary>A local dataset to upload and run instead of the built-in demo.</summary>
    public string? DataRoot { get; init; }

    /// <summary>Bring the system up without submitting a run.</summary>
    public bool NoDemo { get; init; }

    public int? Epochs { get; init; }

    public RunTrainingLoop? Loop { get; init; }

    /// <summary>Stop everything when the demo run ends; the exit code says whether it completed.</summary>
    public bool ExitWhenDone { get; init; }

    /// <summary>Default: <c>artifacts/</c> in the repository (<c>dotnet run</c> starts the AppHost in its project folder, not the caller's).</summary>
    public string ArtifactsDirectory { get; init; } = Path.Combine(Infrastructure.InfrastructureResourceExtensions.RepositoryRoot, "artifacts");

    /// <summary>Competing feature-service processes (each takes as many shards at once as it has cores).</summary>
    public int FeatureReplicas { get; init; } = 2;

    /// <summary>trainer-service processes: several take a sweep's folds (or several runs) in parallel, sharing the cores.</summary>
    public int TrainerReplicas { get; init; } = 1;

    /// <summary>Run the services with ASPNETCORE_ENVIRONMENT=Development (detailed errors) instead of Production.</summary>
    public bool Development { get; init; }

    /// <summary>Everything this type did not recognise, for Aspire.</summary>
    public IReadOnlyList<string> Remaining { get; init; } = [];

    public const string Usage = """
        CremaD AppHost: the services, RabbitMQ and blob storage under .NET Aspire, the Aspire dashboard, and a demo run.
          --mode auto|distributed|embedded   where the services run (auto: configuration, containers, local binaries, else embedded)
          --data-root DIR                    upload and run this dataset (course or official layout) instead of samples/demo
          --no-demo                          submit no run
          --epochs N                         maximum epochs of the submitted run (default: the recipe's, with early stopping)
          --loop fast|reference              training loop of the submitted run
          --exit-when-done                   stop when the run ends: exit code 0 if it completed, 1 if not
          --artifacts-dir DIR                where the run's artefacts are downloaded (default: artifacts/ in the repository)
          --feature-replicas N               feature-service processes (default 2)
          --trainer-replicas N               trainer-service processes (default 1); each trains with cores/N threads
          --development                      run the services as Development (default: Production)
          --publisher manifest --output-path FILE   write the Aspire manifest instead of running
        """;

    /// <exception cref="ArgumentException">An unknown value or a missing one; the message says which.</exception>
    public static AppHostArguments Parse(IReadOnlyList<string> args)
    {
        var result = new AppHostArguments();
        var remaining = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Positive(string value, string name) => int.TryParse(value, out var n) && n >= 1
                ? n
                : throw new ArgumentException($"{name} must be a whole number of at least 1, got '{value}'.");
            switch (args[i])
            {
                case "--mode":
                    var mode = Value();
                    result = result with
                    {
                        Mode = Enum.TryParse<AppHostMode>(mode, ignoreCase: true, out var m)
                            ? m
                            : throw new ArgumentException($"--mode must be auto, distributed or embedded, got '{mode}'."),
                    };
                    break;
                case "--data-root":
                    var root = Path.GetFullPath(Value());
                    if (!Directory.Exists(root)) throw new ArgumentException($"--data-root: '{root}' is not a folder.");
                    result = result with { DataRoot = root };
                    break;
                case "--no-demo":
                    result = result with { NoDemo = true };
                    break;
                case "--epochs":
                    result = result with { Epochs = Positive(Value(), "--epochs") };
                    break;
                case "--loop":
                    var loop = Value();
                    result = result with
                    {
                        Loop = Enum.TryParse<RunTrainingLoop>(loop, ignoreCase: true, out var l)
                            ? l
                            : throw new ArgumentException($"--loop must be fast or reference, got '{loop}'."),
                    };
                    break;
                case "--exit-when-done":
                    result = result with { ExitWhenDone = true };
                    break;
                case "--artifacts-dir":
                    result = result with { ArtifactsDirectory = Path.GetFullPath(Value()) };
                    break;
                case "--development":
                    result = result with { Development = true };
                    break;
                case "--feature-replicas":
                    result = result with { FeatureReplicas = Positive(Value(), "--feature-replicas") };
                    break;
                case "--trainer-replicas":
                    result = result with { TrainerReplicas = Positive(Value(), "--trainer-replicas") };
                    break;
                default:
                    remaining.Add(args[i]);
                    break;
            }
        }
        return result with { Remaining = remaining };
    }

    /// <summary>The dataset's name in storage: <c>demo</c>, or the folder's name in lower-case letters, digits and dashes.</summary>
    public string DatasetName
    {
        get
        {
            if (DataRoot is null) return "demo";
            var folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(DataRoot));
            var name = new string(folder.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
            return name.Length == 0 ? "dataset" : name;
        }
    }
}
