using CremaD.Audio;
using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>One file's prediction, or why it has none.</summary>
/// <param name="Emotion">The predicted class as the model names it (an emotion code such as "ANG").</param>
/// <param name="EmotionName">The readable name ("anger").</param>
/// <param name="Probabilities">Class name → probability, in the model's class order.</param>
/// <param name="Error">Why the file could not be classified (bad audio); the other files are unaffected.</param>
public sealed record ClipPrediction(
    string File,
    string? Emotion,
    string? EmotionName,
    IReadOnlyDictionary<string, double>? Probabilities,
    double? DurationSeconds,
    IReadOnlyList<string> Warnings,
    string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>Classifies WAV files with a trained model directory: the same decoding and features as training.</summary>
public static class PredictionStage
{
    public static IReadOnlyList<ClipPrediction> PredictFiles(string modelDirectory, IReadOnlyList<string> files,
        DeviceChoice device = DeviceChoice.Auto, int? threads = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        using var predictor = Predictor.Load(modelDirectory, device, threads);
        var extractor = new ClipFeatureExtractor();
        var results = new ClipPrediction?[files.Count];
        var clips = new List<FeatureClip>();
        var clipFiles = new List<(int Index, ClipFeatures Features)>();
        for (var i = 0; i < files.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var features = extractor.FromFile(files[i]);
                clips.Add(new FeatureClip(files[i], 0, features.Frames, features.Data));
                clipFiles.Add((i, features));
            }
            catch (Exception e) when (e is AudioFormatException or IOException or UnauthorizedAccessException)
            {
                results[i] = new ClipPrediction(files[i], null, null, null, null, [], e.Message);
            }
        }

        var probabilities = clips.Count == 0 ? [] : predictor.PredictProbabilities(clips, cancellationToken: cancellationToken);
        var names = predictor.ClassNames;
        var displayNames = ClassNames.ForDisplay(names);
        for (var k = 0; k < clipFiles.Count; k++)
        {
            var (index, features) = clipFiles[k];
            var best = Predictor.ArgMax(probabilities[k]);
            var byClass = new Dictionary<string, double>(names.Count);
            for (var c = 0; c < names.Count; c++) byClass[names[c]] = probabilities[k][c];
            results[index] = new ClipPrediction(files[index], names[best], displayNames[best], byClass, features.DurationSeconds,
                features.Warnings, null);
        }
        return results.Select(r => r!).ToArray();
    }
}
