namespace CremaD.Datasets;

/// <summary>
/// One clip's log-mel features as the model consumes them: <paramref name="Data"/> is row-major
/// [<paramref name="Frames"/> x <see cref="CremaD.Audio.FeatureRecipe.MelBands"/>], not yet normalised.
/// </summary>
public sealed record FeatureClip(string Id, int Label, int Frames, float[] Data, string? Actor = null);

/// <summary>Per-band mean and standard deviation of the train partition's features (computed in float64).</summary>
public sealed record Normalisation(float[] Mean, float[] Std, long Frames);
