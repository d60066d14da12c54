using System.Security.Cryptography;
using CremaD.Audio;
using CremaD.Datasets;

namespace CremaD.Learning;

/// <summary>
/// What a training run consumes: the train and validation clips (features not yet normalised), the train
/// partition's normalisation, and the class names in label order.
/// </summary>
public sealed record TrainingData
{
    public TrainingData(IReadOnlyList<FeatureClip> train, IReadOnlyList<FeatureClip> validation, Normalisation normalisation,
        IReadOnlyList<string>? classNames = null)
    {
        Train = train ?? throw new ArgumentNullException(nameof(train));
        Validation = validation ?? throw new ArgumentNullException(nameof(validation));
        Normalisation = normalisation ?? throw new ArgumentNullException(nameof(normalisation));
        ClassNames = classNames ?? Emotions.Codes;
    }

    public IReadOnlyList<FeatureClip> Train { get; }
    public IReadOnlyList<FeatureClip> Validation { get; }
    public Normalisation Normalisation { get; }
    public IReadOnlyList<string> ClassNames { get; }

    public int Classes => ClassNames.Count;

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first clip or value a model cannot be trained on.</summary>
    public void Validate()
    {
        if (Classes < 2) throw new InvalidDataException($"Training needs at least 2 classes, got {Classes}.");
        if (Train.Count == 0) throw new InvalidDataException("The train partition has no clips.");
        if (Validation.Count == 0) throw new InvalidDataException("The validation partition has no clips.");
        FeatureChecks.CheckNormalisation(Normalisation);
        FeatureChecks.CheckClips(Train, "train", Classes);
        FeatureChecks.CheckClips(Validation, "validation", Classes);
    }

    /// <summary>
    /// A digest of everything that determines what is learned from this data (ids, labels, features in order,
    /// normalisation, class names), so a checkpoint refuses to resume on different data.
    /// </summary>
    public string Fingerprint()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var number = new byte[8];
        void AddInt(long value)
        {
            BitConverter.TryWriteBytes(number, value);
            hash.AppendData(number);
        }
        void AddString(string value)
        {
            AddInt(value.Length);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(value));
        }
        void AddFloats(ReadOnlySpan<float> values)
        {
            AddInt(values.Length);
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        }
        foreach (var name in ClassNames) AddString(name);
        AddFloats(Normalisation.Mean);
        AddFloats(Normalisation.Std);
        foreach (var partition in new[] { Train, Validation })
        {
            AddInt(partition.Count);
            foreach (var clip in partition)
            {
                AddString(clip.Id);
                AddInt(clip.Label);
                AddInt(clip.Frames);
                AddFloats(clip.Data);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>Shape and value checks shared by training and inference.</summary>
internal static class FeatureChecks
{
    public const int Bands = FeatureRecipe.MelBands;

    public static void CheckNormalisation(Normalisation normalisation)
    {
        if (normalisation.Mean is null || normalisation.Mean.Length != Bands)
            throw new InvalidDataException($"Normalisation mean must have {Bands} values, got {normalisation.Mean?.Length ?? 0}.");
        if (normalisation.Std is null || normalisation.Std.Length != Bands)
            throw new InvalidDataException($"Normalisation std must have {Bands} values, got {normalisation.Std?.Length ?? 0}.");
        for (var band = 0; band < Bands; band++)
        {
            if (!float.IsFinite(normalisation.Mean[band]))
                throw new InvalidDataException($"Normalisation mean of band {band} is {normalisation.Mean[band]}.");
            if (!float.IsFinite(normalisation.Std[band]) || normalisation.Std[band] < 0)
                throw new InvalidDataException($"Normalisation std of band {band} is {normalisation.Std[band]}.");
        }
    }

    public static void CheckClips(IReadOnlyList<FeatureClip> clips, string partition, int classes, bool labelsRequired = true)
    {
        for (var i = 0; i < clips.Count; i++)
        {
            var clip = clips[i] ?? throw new InvalidDataException($"The {partition} partition has a null clip at position {i}.");
            CheckShape(clip, partition);
            var firstBad = FirstNonFinite(clip.Data);
            if (firstBad >= 0)
                throw new InvalidDataException(
                    $"Clip '{clip.Id}' ({partition}) has a non-finite feature value ({clip.Data[firstBad]}) at frame {firstBad / Bands}, band {firstBad % Bands}.");
            if (labelsRequired && (clip.Label < 0 || clip.Label >= classes))
                throw new InvalidDataException($"Clip '{clip.Id}' ({partition}) has label {clip.Label}; labels must be in [0, {classes}).");
        }
    }

    private static int FirstNonFinite(float[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }
        return -1;
    }

    public static void CheckShape(FeatureClip clip, string partition)
    {
        if (clip.Frames < 1)
            throw new InvalidDataException($"Clip '{clip.Id}' ({partition}) has {clip.Frames} frames; the model needs at least one.");
        if (clip.Data is null || clip.Data.Length != (long)clip.Frames * Bands)
            throw new InvalidDataException(
                $"Clip '{clip.Id}' ({partition}) has {clip.Data?.Length ?? 0} feature values; {clip.Frames} frames x {Bands} bands needs {(long)clip.Frames * Bands}.");
    }
}
