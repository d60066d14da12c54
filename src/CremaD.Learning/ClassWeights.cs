using CremaD.Datasets;

namespace CremaD.Learning;

/// <summary>Inverse-frequency class weights, as scikit-learn's compute_class_weight("balanced") defines them.</summary>
public static class ClassWeights
{
    /// <summary>
    /// w_c = n / (k · count_c) for the n clips of <paramref name="train"/> over <paramref name="classes"/> = k classes,
    /// so a balanced set gets weight 1 everywhere. A class without clips is an error: its weight would be infinite.
    /// </summary>
    public static float[] Balanced(IReadOnlyList<FeatureClip> train, int classes)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least one class is needed.");
        var counts = new long[classes];
        foreach (var clip in train)
        {
            if (clip.Label < 0 || clip.Label >= classes)
                throw new InvalidDataException($"Clip '{clip.Id}' has label {clip.Label}; labels must be in [0, {classes}).");
            counts[clip.Label]++;
        }
        var weights = new float[classes];
        for (var c = 0; c < classes; c++)
        {
            if (counts[c] == 0)
                throw new InvalidDataException($"Class {c} has no clips in the train partition, so it cannot be weighted; turn class weights off or fix the split.");
            weights[c] = (float)((double)train.Count / (classes * (double)counts[c]));
        }
        return weights;
    }
}
