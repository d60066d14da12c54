using System.Text.Json.Serialization;

namespace CremaD.Learning;

/// <summary>
/// The named models a run can train. Each is a complete recipe: <see cref="TrainingOptions"/> holds the flags, and a
/// flag the user sets overrides the model's value. Wire and CLI names: "seed", "statpool".
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelName>))]
public enum ModelName
{
    /// <summary>The seed scripts' model and recipe, bit for bit: the top layer's last hidden states summarise a clip.</summary>
    [JsonStringEnumMemberName("seed")] Seed,

    /// <summary>
    /// The default: the seed's recipe with statistics pooling (<see cref="SummaryPooling.MeanStd"/>) — every frame's
    /// output enters the summary, not only the last. Chosen by measurement (README, "Models").
    /// </summary>
    [JsonStringEnumMemberName("statpool")] StatPool,
}

public static class ModelNames
{
    /// <summary>The name on the wire, in model.json and on the command line.</summary>
    public static string WireName(this ModelName model) => model switch
    {
        ModelName.Seed => "seed",
        ModelName.StatPool => "statpool",
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "unknown model"),
    };

    /// <summary>Every model, by wire name.</summary>
    public static IReadOnlyList<ModelName> All { get; } = Enum.GetValues<ModelName>();

    public static bool TryParse(string? text, out ModelName model)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(candidate.WireName(), text, StringComparison.OrdinalIgnoreCase))
            {
                model = candidate;
                return true;
            }
        }
        model = default;
        return false;
    }

    /// <summary>How the model summarises a clip.</summary>
    public static SummaryPooling Pooling(this ModelName model) => model == ModelName.Seed ? SummaryPooling.LastState : SummaryPooling.MeanStd;

    public static string WireName(this SummaryPooling pooling) => pooling switch
    {
        SummaryPooling.LastState => "last-state",
        SummaryPooling.MeanStd => "mean-std",
        SummaryPooling.Attentive => "attentive",
        _ => throw new ArgumentOutOfRangeException(nameof(pooling), pooling, "unknown pooling"),
    };

    public static bool TryParsePooling(string? text, out SummaryPooling pooling)
    {
        foreach (var candidate in Enum.GetValues<SummaryPooling>())
        {
            if (string.Equals(candidate.WireName(), text, StringComparison.OrdinalIgnoreCase))
            {
                pooling = candidate;
                return true;
            }
        }
        pooling = default;
        return false;
    }
}

/// <summary>How <see cref="SerModel"/> turns the top GRU layer's outputs into one vector per clip. Names: "last-state", "mean-std", "attentive".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SummaryPooling>))]
public enum SummaryPooling
{
    /// <summary>The seed's: the last hidden state of each direction (forward at the last frame, backward at the first), 2H.</summary>
    [JsonStringEnumMemberName("last-state")] LastState,

    /// <summary>Statistics pooling: the mean and standard deviation of every frame's output, 4H.</summary>
    [JsonStringEnumMemberName("mean-std")] MeanStd,

    /// <summary>
    /// Attentive statistics pooling (Okabe et al., 2018): the attention-weighted mean and standard deviation of every
    /// frame's output, the weights a softmax over the clip's frames of a small scoring network, 4H.
    /// </summary>
    [JsonStringEnumMemberName("attentive")] Attentive,
}

/// <summary>
/// Shape of <see cref="SerModel"/>. Defaults are the seed recipe: 80 log-mel bands in, a 2-layer bidirectional GRU
/// of 256 units per direction, dropout 0.35, six emotions out.
/// </summary>
public sealed record ModelOptions(
    int InputSize = 80,
    int HiddenSize = 256,
    int NumLayers = 2,
    double Dropout = 0.35,
    int Classes = 6,
    SummaryPooling Pooling = SummaryPooling.LastState,
    int AttentionSize = 128)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException($"Model input size must be positive, got {InputSize}.");
        if (HiddenSize < 1) throw new ArgumentException($"Model hidden size must be positive, got {HiddenSize}.");
        if (NumLayers < 1) throw new ArgumentException($"Model layer count must be positive, got {NumLayers}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.");
        if (Classes < 2) throw new ArgumentException($"A classifier needs at least 2 classes, got {Classes}.");
        if (!Enum.IsDefined(Pooling)) throw new ArgumentException($"Unknown summary pooling {Pooling}.");
        if (AttentionSize < 1) throw new ArgumentException($"Attention size must be positive, got {AttentionSize}.");
    }
}
