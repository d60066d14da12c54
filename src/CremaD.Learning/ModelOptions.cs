namespace CremaD.Learning;

/// <summary>
/// Shape of <see cref="SerModel"/>. Defaults are the seed recipe: 80 log-mel bands in, a 2-layer bidirectional GRU
/// of 256 units per direction, dropout 0.35, six emotions out.
/// </summary>
public sealed record ModelOptions(
    int InputSize = 80,
    int HiddenSize = 256,
    int NumLayers = 2,
    double Dropout = 0.35,
    int Classes = 6)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible value.</summary>
    public void Validate()
    {
        if (InputSize < 1) throw new ArgumentException($"Model input size must be positive, got {InputSize}.");
        if (HiddenSize < 1) throw new ArgumentException($"Model hidden size must be positive, got {HiddenSize}.");
        if (NumLayers < 1) throw new ArgumentException($"Model layer count must be positive, got {NumLayers}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.");
        if (Classes < 2) throw new ArgumentException($"A classifier needs at least 2 classes, got {Classes}.");
    }
}
