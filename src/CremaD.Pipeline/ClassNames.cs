using CremaD.Datasets;

namespace CremaD.Pipeline;

/// <summary>
/// Models store class names as emotion codes (ANG, DIS, ...), the labels of the corpus; reports and plots show
/// the readable names (anger, disgust, ...). This maps one to the other in one place.
/// </summary>
public static class ClassNames
{
    /// <summary>The names a trained model uses for its outputs, in label order.</summary>
    public static IReadOnlyList<string> ForModel => Emotions.Codes;

    /// <summary>Readable names for <paramref name="modelClassNames"/>; a name that is not an emotion code stays as it is.</summary>
    public static IReadOnlyList<string> ForDisplay(IReadOnlyList<string> modelClassNames) =>
        modelClassNames.Select(code => Emotions.IndexOf(code) is var i and >= 0 ? Emotions.Names[i] : code).ToArray();
}
