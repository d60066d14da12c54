using System.Globalization;

namespace CremaD.Datasets;

/// <summary>Which emotion a clip is labelled with.</summary>
public enum LabelSource
{
    /// <summary>The emotion the actor was asked to portray: the file name's code (official layout) or labels.csv (course layout).</summary>
    Acted,

    /// <summary>
    /// The emotion listeners heard: the majority of CREMA-D's crowd ratings of the audio alone (<c>summaryTable.csv</c>,
    /// column VoiceVote), looked up by the clip's CREMA-D file name. Clips without a single voice vote are set aside.
    /// </summary>
    Perceived,
}

/// <summary>
/// CREMA-D's crowd-sourced perception of each clip's voice (<c>summaryTable.csv</c>, built into the tool; ODbL 1.0):
/// the emotion most raters chose when they heard the audio without the video. The majority voice vote is the acted
/// emotion for 3,099 of the 7,442 clips (42 %; most others were heard as neutral), and 644 clips have a tie between
/// two or more emotions.
/// </summary>
public static class PerceivedEmotions
{
    public const string FileName = "summaryTable.csv";

    /// <summary>Where the votes come from, as errors and reports name it.</summary>
    public const string BuiltInSource = "CREMA-D summaryTable.csv (built in; ODbL 1.0, CheyneyComputerScience/CREMA-D)";

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Votes =
        new(() => ParseVotes(CremaDMetadata.ReadText(FileName), BuiltInSource));

    /// <summary>Voice votes by file name without extension (<c>1001_DFA_ANG_XX</c>): a code letter, or letters joined by ':' for a tie.</summary>
    public static IReadOnlyDictionary<string, string> VoiceVotes => Votes.Value;

    /// <summary>
    /// The perceived emotion of the clip at <paramref name="fileNameOrPath"/> (an index into <see cref="Emotions.Codes"/>),
    /// or null and the reason it has none: not named like a CREMA-D clip, not rated, or rated with a tie.
    /// </summary>
    public static int? Of(string fileNameOrPath, out string reason)
    {
        var stem = Path.GetFileNameWithoutExtension(fileNameOrPath.Replace('\\', '/').Split('/')[^1]);
        if (!CremaDFileName.TryParse(stem + ".wav", out _, out var nameReason))
        {
            reason = $"no perceived emotion: {nameReason}";
            return null;
        }
        if (!VoiceVotes.TryGetValue(stem, out var vote))
        {
            reason = $"no perceived emotion: {stem} has no voice vote in CREMA-D's {FileName}";
            return null;
        }
        if (vote.Contains(':', StringComparison.Ordinal))
        {
            reason = $"no perceived emotion: the voice votes for {stem} are tied between {string.Join(", ", vote.Split(':').Select(CodeName))}";
            return null;
        }
        var label = LabelOfVote(vote);
        if (label < 0)
        {
            reason = $"no perceived emotion: {stem}'s voice vote '{vote}' is not one of A, D, F, H, N, S";
            return null;
        }
        reason = "";
        return label;
    }

    /// <summary>Parses the text of a summaryTable.csv (columns FileName and VoiceVote, any order).</summary>
    public static IReadOnlyDictionary<string, string> ParseVotes(string text, string source)
    {
        var rows = Csv.Parse(text, source).Where(r => !r.IsBlank).ToList();
        if (rows.Count == 0) throw new DatasetFormatException(source, null, "empty file: expected a header with FileName and VoiceVote");
        var header = rows[0];
        int Column(string name)
        {
            for (var i = 0; i < header.Fields.Count; i++)
            {
                if (string.Equals(header.Fields[i], name, StringComparison.OrdinalIgnoreCase)) return i;
            }
            throw new DatasetFormatException(source, header.LineNumber, $"missing column '{name}' (header: {string.Join(",", header.Fields)})");
        }
        var fileColumn = Column("FileName");
        var voteColumn = Column("VoiceVote");
        var votes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows.Skip(1))
        {
            if (row.Fields.Count != header.Fields.Count)
                throw new DatasetFormatException(source, row.LineNumber, $"expected {header.Fields.Count} fields, found {row.Fields.Count}");
            var file = row.Fields[fileColumn].Trim();
            var vote = row.Fields[voteColumn].Trim();
            if (file.Length == 0 || vote.Length == 0) continue;
            if (!votes.TryAdd(file, vote)) throw new DatasetFormatException(source, row.LineNumber, $"duplicate FileName '{file}'");
        }
        return votes;
    }

    /// <summary>Relabels <paramref name="dataset"/>'s clips with their perceived emotion; clips without one join its rejected files with the reason.</summary>
    public static Dataset Relabel(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var kept = new List<ClipEntry>(dataset.Clips.Count);
        var rejected = new List<RejectedFile>(dataset.Rejected);
        foreach (var clip in dataset.Clips)
        {
            if (Of(clip.RelativePath, out var reason) is { } label) kept.Add(clip with { Label = label });
            else rejected.Add(new RejectedFile(clip.RelativePath, reason));
        }
        if (kept.Count == 0)
            throw new DatasetFormatException(dataset.Root, null, $"no clip has a perceived emotion (--labels-from perceived): {rejected.Count} set aside, e.g. {rejected[^1].Reason}");
        return dataset with { Clips = kept, Rejected = rejected, LabelsFrom = LabelSource.Perceived };
    }

    private static int LabelOfVote(string vote) => vote switch
    {
        "A" => Emotions.IndexOf("ANG"),
        "D" => Emotions.IndexOf("DIS"),
        "F" => Emotions.IndexOf("FEA"),
        "H" => Emotions.IndexOf("HAP"),
        "N" => Emotions.IndexOf("NEU"),
        "S" => Emotions.IndexOf("SAD"),
        _ => -1,
    };

    private static string CodeName(string vote) => LabelOfVote(vote) is var label and >= 0
        ? Emotions.Names[label]
        : vote.ToString(CultureInfo.InvariantCulture);
}
