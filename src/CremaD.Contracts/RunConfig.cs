using System.Globalization;
using System.Text.Json.Serialization;

namespace CremaD.Contracts;

/// <summary>Where the trainer puts tensors. Wire names: "auto", "cpu", "cuda".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunDevice>))]
public enum RunDevice
{
    /// <summary>CUDA when the trainer's TorchSharp reports it available, else the CPU.</summary>
    [JsonStringEnumMemberName("auto")] Auto,
    [JsonStringEnumMemberName("cpu")] Cpu,
    [JsonStringEnumMemberName("cuda")] Cuda,
}

/// <summary>How the trainer executes an epoch (CremaD.Learning.TrainingLoop). Wire names: "reference", "fast".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunTrainingLoop>))]
public enum RunTrainingLoop
{
    /// <summary>The original script's loop: random batches, tensors built per step (for comparison and benchmarks).</summary>
    [JsonStringEnumMemberName("reference")] Reference,

    /// <summary>Length-bucketed batches over features resident in one tensor; same recipe, faster: the default.</summary>
    [JsonStringEnumMemberName("fast")] Fast,
}

/// <summary>Which named model a run trains (CremaD.Learning.ModelName). Wire names: "statpool" (the default), "seed".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunModel>))]
public enum RunModel
{
    /// <summary>The seed's BiGRU with statistics pooling over every frame: the default.</summary>
    [JsonStringEnumMemberName("statpool")] StatPool,

    /// <summary>The original script's model and recipe, bit for bit.</summary>
    [JsonStringEnumMemberName("seed")] Seed,
}

/// <summary>
/// The recipe of a run: the original training script's flags with their names and defaults (CremaD.Learning's
/// TrainingOptions mirrors them; the pipeline maps one onto the other), plus how the distributed services split
/// the work (<see cref="ShardSize"/>). Omitted JSON properties take these defaults, so <c>{"epochs": 5}</c> is a
/// complete configuration. <see cref="ToFlags"/> gives the original snake_case flag names for run manifests.
/// </summary>
public sealed record RunConfig
{
    /// <summary>Clips per feature shard unless the submitter says otherwise.</summary>
    public const int DefaultShardSize = 256;

    /// <summary>Upper bound of <see cref="ShardSize"/>: a shard's <see cref="ExtractFeatureShard"/> lists its clips, and a message should stay well under a megabyte.</summary>
    public const int MaxShardSize = 2048;

    // Upper bounds on what a client may ask for: far above any useful recipe (the script's are 80, 24, 12, 256, 2), low
    // enough that no request can tie a trainer up for weeks or ask it for a model that does not fit in memory.
    public const int MaxEpochs = 1000;
    public const int MaxBatchSize = 1024;
    public const int MaxPatience = 1000;
    public const int MaxHiddenSize = 2048;
    public const int MaxNumLayers = 8;

    /// <summary>The defaults of every flag.</summary>
    public static RunConfig Default { get; } = new();

    /// <summary>The model to train (this implementation's addition; the flags below apply to either).</summary>
    public RunModel Model { get; init; } = RunModel.StatPool;
    /// <summary>Maximum number of epochs (early stopping may end training sooner).</summary>
    public int Epochs { get; init; } = 80;
    public int BatchSize { get; init; } = 24;
    /// <summary>AdamW learning rate, cosine-annealed over the epochs.</summary>
    public double LearningRate { get; init; } = 3e-4;
    public double WeightDecay { get; init; } = 1e-4;
    public int Seed { get; init; } = 42;
    /// <summary>Epochs without a better validation accuracy before training stops.</summary>
    public int Patience { get; init; } = 12;
    public double LabelSmoothing { get; init; } = 0.05;
    /// <summary>GRU units per direction.</summary>
    public int HiddenSize { get; init; } = 256;
    public int NumLayers { get; init; } = 2;
    public double Dropout { get; init; } = 0.35;
    /// <summary>Maximum global L2 norm of the gradients.</summary>
    public double GradClip { get; init; } = 5.0;
    public bool UseSpecAugment { get; init; } = true;
    public bool UseClassWeights { get; init; } = true;
    public RunDevice Device { get; init; } = RunDevice.Auto;
    /// <summary>The production loop is the fast one, as in TrainingOptions and the CLI.</summary>
    public RunTrainingLoop Loop { get; init; } = RunTrainingLoop.Fast;
    /// <summary>Clips per <see cref="ExtractFeatureShard"/> command: the unit of parallel feature extraction.</summary>
    public int ShardSize { get; init; } = DefaultShardSize;

    /// <summary>Impossible values, each named by its flag; empty when the configuration is usable.</summary>
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems();
        problems.AtLeast("epochs", Epochs, 1).AtMost("epochs", Epochs, MaxEpochs)
            .AtLeast("batch_size", BatchSize, 1).AtMost("batch_size", BatchSize, MaxBatchSize)
            .AtLeast("patience", Patience, 1).AtMost("patience", Patience, MaxPatience)
            .AtLeast("hidden_size", HiddenSize, 1).AtMost("hidden_size", HiddenSize, MaxHiddenSize)
            .AtLeast("num_layers", NumLayers, 1).AtMost("num_layers", NumLayers, MaxNumLayers)
            .AtLeast("shard_size", ShardSize, 1).AtMost("shard_size", ShardSize, MaxShardSize)
            .Defined("device", Device)
            .Defined("loop", Loop)
            .Defined("model", Model);
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) problems.Add($"learning_rate must be a positive number, got {LearningRate}.");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) problems.Add($"weight_decay must be a non-negative number, got {WeightDecay}.");
        if (!(LabelSmoothing is >= 0 and < 1)) problems.Add($"label_smoothing must be in [0, 1), got {LabelSmoothing}.");
        if (!(Dropout is >= 0 and < 1)) problems.Add($"dropout must be in [0, 1), got {Dropout}.");
        if (!(GradClip > 0) || !double.IsFinite(GradClip)) problems.Add($"grad_clip must be a positive number, got {GradClip}.");
        return problems.List;
    }

    /// <summary>Every flag under the training script's name (epochs, batch_size, learning_rate, ...), in declaration order.</summary>
    public IReadOnlyDictionary<string, object> ToFlags()
    {
        var flags = new OrderedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["model"] = WireName(Model),
            ["epochs"] = Epochs,
            ["batch_size"] = BatchSize,
            ["learning_rate"] = LearningRate,
            ["weight_decay"] = WeightDecay,
            ["seed"] = Seed,
            ["patience"] = Patience,
            ["label_smoothing"] = LabelSmoothing,
            ["hidden_size"] = HiddenSize,
            ["num_layers"] = NumLayers,
            ["dropout"] = Dropout,
            ["grad_clip"] = GradClip,
            ["use_spec_augment"] = UseSpecAugment,
            ["use_class_weights"] = UseClassWeights,
            ["device"] = WireName(Device),
            ["loop"] = WireName(Loop),
            ["shard_size"] = ShardSize,
        };
        return flags;
    }

    /// <summary>The one-line form for logs: <c>epochs=80 batch_size=24 ...</c>.</summary>
    public override string ToString() =>
        string.Join(' ', ToFlags().Select(flag => string.Create(CultureInfo.InvariantCulture, $"{flag.Key}={FormatFlag(flag.Value)}")));

    private static string FormatFlag(object value) => value switch
    {
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string WireName<TEnum>(TEnum value) where TEnum : struct, Enum
    {
        var member = typeof(TEnum).GetField(value.ToString());
        return member?.GetCustomAttributes(typeof(JsonStringEnumMemberNameAttribute), inherit: false)
                   .Cast<JsonStringEnumMemberNameAttribute>().FirstOrDefault()?.Name
               ?? value.ToString().ToLowerInvariant();
    }
}
