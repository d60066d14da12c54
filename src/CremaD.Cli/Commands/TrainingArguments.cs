using System.CommandLine;
using CremaD.Learning;

namespace CremaD.Cli.Commands;

/// <summary>
/// The training recipe's options, with the original script's flag names and defaults (taken from
/// <see cref="TrainingOptions"/>, the one place they are defined), plus --device, --loop and --threads.
/// </summary>
public sealed class TrainingArguments
{
    private static readonly TrainingOptions Defaults = new();

    public TrainingArguments(Option<int>? sharedSeed = null)
    {
        Seed = sharedSeed ?? new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => Defaults.Seed };
        OwnsSeed = sharedSeed is null;
    }

    private bool OwnsSeed { get; }

    public Option<int> Epochs { get; } = Positive("--epochs", "Maximum number of epochs", Defaults.Epochs);
    public Option<int> BatchSize { get; } = Positive("--batch-size", "Clips per batch", Defaults.BatchSize);
    public Option<double> LearningRate { get; } = Number("--learning-rate", "AdamW learning rate (cosine-annealed over the epochs)", Defaults.LearningRate);
    public Option<double> WeightDecay { get; } = Number("--weight-decay", "AdamW weight decay", Defaults.WeightDecay);
    public Option<int> Seed { get; }
    public Option<int> Patience { get; } = Positive("--patience", "Epochs without a better validation accuracy before stopping", Defaults.Patience);
    public Option<double> LabelSmoothing { get; } = Number("--label-smoothing", "Cross-entropy label smoothing", Defaults.LabelSmoothing);
    public Option<int> HiddenSize { get; } = Positive("--hidden-size", "GRU hidden size per direction", Defaults.HiddenSize);
    public Option<int> NumLayers { get; } = Positive("--num-layers", "GRU layers", Defaults.NumLayers);
    public Option<double> Dropout { get; } = Number("--dropout", "Dropout (between GRU layers and in the head)", Defaults.Dropout);
    public Option<ModelName> Model { get; } = new("--model")
    {
        Description = "statpool (the default: statistics pooling over every frame) or seed (the original model and recipe, bit for bit)",
        DefaultValueFactory = _ => Defaults.Model,
        CustomParser = r => ModelNames.TryParse(r.Tokens.Single().Value, out var model) ? model
            : Fail<ModelName>(r, $"--model must be one of {string.Join(", ", ModelNames.All.Select(m => m.WireName()))}"),
    };
    public Option<SummaryPooling?> Pooling { get; } = new("--pooling")
    {
        Description = "Override the model's clip summary: last-state, mean-std or attentive (for ablations)",
        CustomParser = r => ModelNames.TryParsePooling(r.Tokens.Single().Value, out var pooling) ? pooling
            : Fail<SummaryPooling?>(r, "--pooling must be one of last-state, mean-std, attentive"),
    };
    public Option<double> GradClip { get; } = Number("--grad-clip", "Gradient-norm clipping threshold", Defaults.GradClip);
    public Option<bool> UseSpecAugment { get; } = new("--use-spec-augment") { Description = "SpecAugment on training features (default on)" };
    public Option<bool> NoSpecAugment { get; } = new("--no-spec-augment") { Description = "Turn SpecAugment off" };
    public Option<bool> NoClassWeights { get; } = new("--no-class-weights") { Description = "Unweighted cross-entropy" };
    public Option<DeviceChoice> Device { get; } = new("--device") { Description = "auto (CUDA when available), cpu or cuda", DefaultValueFactory = _ => DeviceChoice.Auto };
    public Option<TrainingLoop> Loop { get; } = new("--loop")
    {
        Description = "fast (length-bucketed batches over resident tensors) or reference (the original loop)",
        DefaultValueFactory = _ => Defaults.Loop,
    };
    public Option<int?> Threads { get; } = new("--threads")
    {
        Description = "Threads to train with (default: every core); the same seed and thread count give the same run",
    };

    /// <param name="includeThreads">False for a command that defines its own --threads (benchmark train takes a list).</param>
    public void AddTo(Command command, bool includeThreads = true)
    {
        Option[] options = [Model, Epochs, BatchSize, LearningRate, WeightDecay, Patience, LabelSmoothing, HiddenSize, NumLayers, Dropout,
            Pooling, GradClip, UseSpecAugment, NoSpecAugment, NoClassWeights, Device, Loop];
        if (OwnsSeed) command.Options.Add(Seed);
        foreach (var option in options) command.Options.Add(option);
        if (includeThreads) command.Options.Add(Threads);
        threadsAdded = includeThreads;
    }

    private bool threadsAdded = true;

    public TrainingOptions Options(ParseResult parseResult)
    {
        if (parseResult.GetValue(UseSpecAugment) && parseResult.GetValue(NoSpecAugment))
            throw new CliException("--use-spec-augment and --no-spec-augment contradict each other");
        var options = new TrainingOptions
        {
            Epochs = parseResult.GetValue(Epochs),
            BatchSize = parseResult.GetValue(BatchSize),
            LearningRate = parseResult.GetValue(LearningRate),
            WeightDecay = parseResult.GetValue(WeightDecay),
            Seed = parseResult.GetValue(Seed),
            Patience = parseResult.GetValue(Patience),
            LabelSmoothing = parseResult.GetValue(LabelSmoothing),
            HiddenSize = parseResult.GetValue(HiddenSize),
            NumLayers = parseResult.GetValue(NumLayers),
            Dropout = parseResult.GetValue(Dropout),
            Model = parseResult.GetValue(Model),
            Pooling = parseResult.GetValue(Pooling),
            GradClip = parseResult.GetValue(GradClip),
            UseSpecAugment = !parseResult.GetValue(NoSpecAugment),
            UseClassWeights = !parseResult.GetValue(NoClassWeights),
            Device = parseResult.GetValue(Device),
            Loop = parseResult.GetValue(Loop),
            Threads = threadsAdded ? parseResult.GetValue(Threads) : null,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message);
        }
        return options;
    }

    /// <summary>True when the user gave <paramref name="option"/> on the command line (not just its default).</summary>
    public static bool Given(ParseResult parseResult, Option option) => parseResult.GetResult(option) is { Implicit: false };

    private static T Fail<T>(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }

    private static Option<int> Positive(string name, string description, int defaultValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError($"{name} must be at least 1");
        });
        return option;
    }

    private static Option<double> Number(string name, string description, double defaultValue)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            if (!double.IsFinite(r.GetValueOrDefault<double>()) || r.GetValueOrDefault<double>() < 0) r.AddError($"{name} must be a finite number >= 0");
        });
        return option;
    }
}
