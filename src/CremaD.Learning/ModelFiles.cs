using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Audio;
using CremaD.Datasets;

namespace CremaD.Learning;

/// <summary>Names of the files a training run writes into its output (model) directory.</summary>
public static class ModelFiles
{
    /// <summary>Weights of the best-validation-accuracy epoch, in TorchSharp's module.save format.</summary>
    public const string BestModel = "best_model";

    /// <summary>Describes <see cref="BestModel"/>: model shape, normalisation, class order, feature recipe (<see cref="ModelManifest"/>).</summary>
    public const string Manifest = "model.json";

    /// <summary>Everything needed to continue a stopped run (<see cref="Trainer.Resume"/>), rewritten after every epoch.</summary>
    public const string Checkpoint = "last_checkpoint";

    /// <summary>Training options as model.json writes them (snake_case names), for documents that quote the recipe.</summary>
    public static JsonElement RecipeJson(TrainingOptions options) => JsonSerializer.SerializeToElement(options, Json);

    internal static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}

/// <summary>How the model in a directory was trained.</summary>
public sealed record TrainingSummary(
    int BestEpoch,
    double BestValidationAccuracy,
    int EpochsRun,
    bool StoppedEarly,
    TrainingOptions Options,
    string Device,
    int Threads);

/// <summary>
/// model.json: what a model directory's best_model needs to be used on its own — the model shape, the train
/// partition's normalisation, the class names in output order, and the feature recipe the inputs must follow.
/// </summary>
public sealed record ModelManifest(
    string Format,
    int Version,
    ModelOptions Model,
    IReadOnlyList<string> ClassNames,
    float[] NormalisationMean,
    float[] NormalisationStd,
    long NormalisationFrames,
    int FeatureRecipeVersion,
    JsonElement FeatureRecipe,
    TrainingSummary? Training)
{
    public const string FormatName = "cremad-ser-model";
    public const int CurrentVersion = 1;

    public Normalisation Normalisation => new(NormalisationMean, NormalisationStd, NormalisationFrames);

    /// <summary>
    /// Which named model this is ("statpool", "seed"): the training recipe's, or for a manifest without one, the name
    /// its architecture matches. Written to model.json for people and tools; not read back.
    /// </summary>
    public string ModelName => Training?.Options.Model.WireName()
                               ?? (Model.Pooling == SummaryPooling.LastState ? CremaD.Learning.ModelName.Seed : CremaD.Learning.ModelName.StatPool).WireName();

    public static ModelManifest Create(ModelOptions model, IReadOnlyList<string> classNames, Normalisation normalisation, TrainingSummary? training) =>
        new(FormatName, CurrentVersion, model, classNames.ToArray(), normalisation.Mean, normalisation.Std, normalisation.Frames,
            CremaD.Audio.FeatureRecipe.Version, JsonSerializer.SerializeToElement(CremaD.Audio.FeatureRecipe.Describe()), training);

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, ModelFiles.Json));

    /// <exception cref="FileNotFoundException">No manifest at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a usable manifest; the message names the file and the fault.</exception>
    public static ModelManifest Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No model manifest at '{path}'.", path);
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path), ModelFiles.Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a model manifest ({e.Message}).", e);
        }
        if (manifest is null || manifest.Format != FormatName)
            throw new InvalidDataException($"{path}: not a model manifest (format is '{manifest?.Format}', expected '{FormatName}').");
        if (manifest.Version != CurrentVersion)
            throw new InvalidDataException($"{path}: manifest version {manifest.Version} is not supported (this build reads version {CurrentVersion}).");
        try
        {
            manifest.Model.Validate();
            FeatureChecks.CheckNormalisation(manifest.Normalisation);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or NullReferenceException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        if (manifest.ClassNames is null || manifest.ClassNames.Count != manifest.Model.Classes)
            throw new InvalidDataException($"{path}: {manifest.ClassNames?.Count ?? 0} class names for a model with {manifest.Model.Classes} outputs.");
        if (manifest.FeatureRecipeVersion != CremaD.Audio.FeatureRecipe.Version)
            throw new InvalidDataException(
                $"{path}: the model was trained on feature recipe version {manifest.FeatureRecipeVersion}, but this build computes version {CremaD.Audio.FeatureRecipe.Version}; its predictions would be meaningless.");
        return manifest;
    }
}
