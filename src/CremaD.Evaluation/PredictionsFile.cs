using CremaD.Datasets;

namespace CremaD.Evaluation;

/// <summary>
/// A predictions file (<c>test_predictions.csv</c>: <c>id,true,predicted,p_&lt;class&gt;…</c>, classes by display name)
/// read back into the speaker predictions a model card is built from: how a cross-validation sweep merges the model
/// cards of its folds from their runs' artefacts.
/// </summary>
public static class PredictionsFile
{
    /// <exception cref="InvalidDataException">Not a predictions file, or a class name not among <paramref name="classNames"/>; the message names <paramref name="source"/>.</exception>
    public static IReadOnlyList<SpeakerPrediction> Read(string text, string source, IReadOnlyList<string> classNames)
    {
        IReadOnlyList<IReadOnlyList<string>> records;
        try
        {
            records = CsvFile.Records(text, source);
        }
        catch (DatasetFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        if (records.Count == 0 || records[0].Count < 3 || records[0][0] != "id" || records[0][1] != "true" || records[0][2] != "predicted")
            throw new InvalidDataException($"{source}: not a predictions file (the header must start with id,true,predicted).");
        var predictions = new List<SpeakerPrediction>(records.Count - 1);
        for (var row = 1; row < records.Count; row++)
        {
            var fields = records[row];
            if (fields.Count < 3) throw new InvalidDataException($"{source}: record {row + 1} has {fields.Count} fields; id, true and predicted are needed.");
            predictions.Add(new SpeakerPrediction(IndexOf(fields[1], classNames, source, row), IndexOf(fields[2], classNames, source, row),
                CremaDFileName.ActorOf(fields[0]) ?? ""));
        }
        return predictions;
    }

    private static int IndexOf(string name, IReadOnlyList<string> classNames, string source, int row)
    {
        for (var i = 0; i < classNames.Count; i++)
        {
            if (string.Equals(classNames[i], name, StringComparison.Ordinal)) return i;
        }
        throw new InvalidDataException($"{source}: record {row + 1} names class '{name}', not one of {string.Join(", ", classNames)}.");
    }
}
