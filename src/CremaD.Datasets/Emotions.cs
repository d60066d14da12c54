namespace CremaD.Datasets;

/// <summary>The six CREMA-D emotions. The index of a code is its class id everywhere (labels.csv, models, reports).</summary>
public static class Emotions
{
    public static IReadOnlyList<string> Codes { get; } = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];

    public static IReadOnlyList<string> Names { get; } = ["anger", "disgust", "fear", "happy", "neutral", "sad"];

    public static int Count => Codes.Count;

    /// <summary>Class id of an emotion code (case-insensitive), or -1.</summary>
    public static int IndexOf(string code)
    {
        for (var i = 0; i < Codes.Count; i++)
        {
            if (string.Equals(Codes[i], code, StringComparison.OrdinalIgnoreCase)) return i;
        }
        return -1;
    }
}
