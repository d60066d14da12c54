namespace CremaD.Evaluation;

/// <summary>Argument checks shared by the metric types, so every entry point rejects bad labels with the same message.</summary>
internal static class LabelValidation
{
    public static void CheckLabels(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, int classes)
    {
        ArgumentNullException.ThrowIfNull(yTrue);
        ArgumentNullException.ThrowIfNull(yPred);
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "The number of classes must be at least 1.");
        }
        if (yTrue.Count != yPred.Count)
        {
            throw new ArgumentException(
                $"yTrue has {yTrue.Count} labels but yPred has {yPred.Count}; they must pair up one to one.", nameof(yPred));
        }
        if (yTrue.Count == 0)
        {
            throw new ArgumentException("There are no samples: metrics are undefined for an empty set.", nameof(yTrue));
        }
        CheckRange(yTrue, classes, nameof(yTrue));
        CheckRange(yPred, classes, nameof(yPred));
    }

    public static void CheckClassNames(IReadOnlyList<string> classNames, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(classNames, parameterName);
        if (classNames.Count == 0)
        {
            throw new ArgumentException("At least one class name is required.", parameterName);
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < classNames.Count; i++)
        {
            var name = classNames[i];
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException($"Class name {i} is null or blank.", parameterName);
            }
            if (!seen.Add(name))
            {
                throw new ArgumentException($"Class name '{name}' appears more than once.", parameterName);
            }
        }
    }

    private static void CheckRange(IReadOnlyList<int> labels, int classes, string parameterName)
    {
        for (var i = 0; i < labels.Count; i++)
        {
            var label = labels[i];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(
                    parameterName, label, $"{parameterName}[{i}] = {label} is outside the class range 0..{classes - 1}.");
            }
        }
    }
}
