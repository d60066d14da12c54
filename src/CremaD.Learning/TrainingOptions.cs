using System.Text.Json.Serialization;

namespace CremaD.Learning;

/// <summary>Where tensors live. <see cref="Auto"/> takes CUDA when TorchSharp reports it available, else the CPU.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeviceChoice>))]
public enum DeviceChoice
{
    Auto,
    Cpu,
    Cuda,
}

/// <summary>
/// How an epoch is executed. Both apply the same recipe (model, loss, optimiser, schedule, augmentation,
/// early stopping); they differ in how batches are formed and fed.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingLoop>))]
public enum TrainingLoop
{
    /// <summary>The seed scripts' loop: random batches, tensors built from each clip's array every step.</summary>
    Reference,

    /// <summary>Length-bucketed random batches over features resident in one normalised tensor: the default.</summary>
    Fast,
}

/// <summary>
/// The training recipe. Names and defaults are those of the original training script; <see cref="Model"/>,
/// <see cref="Pooling"/>, <see cref="Device"/>, <see cref="Loop"/> and <see cref="Threads"/> are this
/// implementation's additions. The default model is <see cref="ModelName.StatPool"/>; <c>Model = ModelName.Seed</c>
/// gives the original script's model and numbers exactly.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Which named model (<see cref="ModelName"/>); the flags below apply to either.</summary>
    public ModelName Model { get; init; } = ModelName.StatPool;

    public int Epochs { get; init; } = 80;
    public int BatchSize { get; init; } = 24;
    public double LearningRate { get; init; } = 3e-4;
    public double WeightDecay { get; init; } = 1e-4;
    public int Seed { get; init; } = 42;
    /// <summary>Epochs without a validation-accuracy improvement before training stops.</summary>
    public int Patience { get; init; } = 12;
    public double LabelSmoothing { get; init; } = 0.05;
    public int HiddenSize { get; init; } = 256;
    public int NumLayers { get; init; } = 2;
    public double Dropout { get; init; } = 0.35;
    /// <summary>How the GRU's outputs become one vector per clip; null: the model's own (<see cref="ModelNames.Pooling"/>). For ablations.</summary>
    public SummaryPooling? Pooling { get; init; }
    /// <summary>Maximum global L2 norm of the gradients (clip_grad_norm_).</summary>
    public double GradClip { get; init; } = 5.0;
    public bool UseSpecAugment { get; init; } = true;
    /// <summary>Weight class c by n / (k · count_c) over the train partition.</summary>
    public bool UseClassWeights { get; init; } = true;
    public DeviceChoice Device { get; init; } = DeviceChoice.Auto;
    /// <summary>
    /// The production loop is <see cref="TrainingLoop.Fast"/> (same recipe, faster); <see cref="TrainingLoop.Reference"/>
    /// is the original script's loop, kept for comparison and benchmarks. The CLI and the run contract default to this value.
    /// </summary>
    public TrainingLoop Loop { get; init; } = TrainingLoop.Fast;
    /// <summary>
    /// Threads the run uses; null: every processor (Environment.ProcessorCount, which honours container CPU limits).
    /// The fast loop plans them itself (<see cref="TrainingThreads"/>: concurrent GRU directions, from four threads on
    /// also data-parallel shards, each thread with one LibTorch intra-op thread); the reference loop gives them all to
    /// LibTorch's intra-op parallelism (torch.set_num_threads). The same seed and thread count give the same history
    /// and weights; one thread gives exactly the numbers the fast loop gave before it had threads.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>The model these options train, for <paramref name="classes"/> classes of 80-band features.</summary>
    public ModelOptions ToModelOptions(int classes, int inputSize = CremaD.Audio.FeatureRecipe.MelBands) =>
        new(inputSize, HiddenSize, NumLayers, Dropout, classes, Pooling ?? Model.Pooling());

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, got {Epochs}.");
        if (BatchSize < 1) throw new ArgumentException($"Batch size must be at least 1, got {BatchSize}.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"Learning rate must be positive, got {LearningRate}.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException($"Weight decay must be non-negative, got {WeightDecay}.");
        if (Patience < 1) throw new ArgumentException($"Patience must be at least 1, got {Patience}.");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"Label smoothing must be in [0, 1), got {LabelSmoothing}.");
        if (!(GradClip > 0)) throw new ArgumentException($"Gradient clip norm must be positive, got {GradClip}.");
        if (Threads is < 1) throw new ArgumentException($"Thread count must be at least 1, got {Threads}.");
        if (!Enum.IsDefined(Device)) throw new ArgumentException($"Unknown device {Device}.");
        if (!Enum.IsDefined(Loop)) throw new ArgumentException($"Unknown training loop {Loop}.");
        if (!Enum.IsDefined(Model)) throw new ArgumentException($"Unknown model {Model}.");
        ToModelOptions(classes: 2).Validate();
    }
}
