namespace CremaD.Datasets;

/// <summary>
/// A CREMA-D clip name, <c>&lt;actor&gt;_&lt;sentence&gt;_&lt;emotion&gt;_&lt;level&gt;</c>, e.g. <c>1001_DFA_ANG_XX.wav</c>:
/// a numeric actor id, a three-letter sentence code, an emotion code of <see cref="Emotions.Codes"/> and an
/// intensity level (LO, MD, HI or XX for unspecified).
/// </summary>
public sealed record CremaDFileName(string Actor, string Sentence, string Emotion, string Level)
{
    public static IReadOnlyList<string> Levels { get; } = ["LO", "MD", "HI", "XX"];

    /// <summary>Class id of <see cref="Emotion"/>.</summary>
    public int Label => Emotions.IndexOf(Emotion);

    /// <summary>Parses a file name or path (directory and extension are ignored).</summary>
    public static bool TryParse(string fileNameOrPath, out CremaDFileName? name, out string reason)
    {
        name = null;
        var stem = Path.GetFileNameWithoutExtension(fileNameOrPath);
        var parts = stem.Split('_');
        if (parts.Length != 4)
        {
            reason = $"file name '{stem}' does not follow <actor>_<sentence>_<emotion>_<level> (e.g. 1001_DFA_ANG_XX)";
            return false;
        }
        var (actor, sentence, emotion, level) = (parts[0], parts[1], parts[2], parts[3]);
        if (actor.Length == 0 || !actor.All(char.IsAsciiDigit))
        {
            reason = $"actor id '{actor}' in '{stem}' is not a number";
            return false;
        }
        if (sentence.Length != 3 || !sentence.All(char.IsAsciiLetter))
        {
            reason = $"sentence code '{sentence}' in '{stem}' is not three letters";
            return false;
        }
        if (Emotions.IndexOf(emotion) < 0)
        {
            reason = $"unknown emotion code '{emotion}' in '{stem}' (expected one of {string.Join(", ", Emotions.Codes)})";
            return false;
        }
        if (!Levels.Contains(level.ToUpperInvariant()))
        {
            reason = $"unknown intensity level '{level}' in '{stem}' (expected one of {string.Join(", ", Levels)})";
            return false;
        }
        name = new CremaDFileName(actor, sentence.ToUpperInvariant(), emotion.ToUpperInvariant(), level.ToUpperInvariant());
        reason = "";
        return true;
    }

    /// <summary>The actor of a CREMA-D-named file, or null when the name does not follow the scheme.</summary>
    public static string? ActorOf(string fileNameOrPath) => TryParse(fileNameOrPath, out var name, out _) ? name!.Actor : null;
}
