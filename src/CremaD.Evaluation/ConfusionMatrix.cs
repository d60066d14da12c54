namespace CremaD.Evaluation;

/// <summary>
/// Confusion matrix as scikit-learn's <c>confusion_matrix(y_true, y_pred, labels=range(k))</c>:
/// rows are true classes, columns are predicted classes.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[,] _counts;

    private ConfusionMatrix(long[,] counts)
    {
        _counts = counts;
    }

    /// <summary>Number of classes (rows = columns).</summary>
    public int Classes => _counts.GetLength(0);

    /// <summary>A copy of the counts; <c>Counts[t, p]</c> is the number of samples of true class t predicted as p.</summary>
    public long[,] Counts => (long[,])_counts.Clone();

    /// <summary>Samples of true class <paramref name="trueClass"/> predicted as <paramref name="predictedClass"/>.</summary>
    public long this[int trueClass, int predictedClass] => _counts[trueClass, predictedClass];

    /// <summary>All samples counted.</summary>
    public long Total
    {
        get
        {
            long total = 0;
            foreach (var count in _counts) total += count;
            return total;
        }
    }

    /// <summary>Samples whose true class is <paramref name="trueClass"/> (the row sum).</summary>
    public long Support(int trueClass)
    {
        long sum = 0;
        for (var p = 0; p < Classes; p++) sum += _counts[trueClass, p];
        return sum;
    }

    /// <summary>Samples predicted as <paramref name="predictedClass"/> (the column sum).</summary>
    public long Predicted(int predictedClass)
    {
        long sum = 0;
        for (var t = 0; t < Classes; t++) sum += _counts[t, predictedClass];
        return sum;
    }

    /// <summary>Correct predictions (the diagonal sum).</summary>
    public long Correct
    {
        get
        {
            long sum = 0;
            for (var c = 0; c < Classes; c++) sum += _counts[c, c];
            return sum;
        }
    }

    public static ConfusionMatrix Compute(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, int classes)
    {
        LabelValidation.CheckLabels(yTrue, yPred, classes);
        var counts = new long[classes, classes];
        for (var i = 0; i < yTrue.Count; i++) counts[yTrue[i], yPred[i]]++;
        return new ConfusionMatrix(counts);
    }

    /// <summary>Wraps existing counts (copied), e.g. a matrix accumulated batch by batch elsewhere.</summary>
    public static ConfusionMatrix FromCounts(long[,] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var classes = counts.GetLength(0);
        if (classes < 1 || counts.GetLength(1) != classes)
        {
            throw new ArgumentException(
                $"A confusion matrix must be square and non-empty; got {counts.GetLength(0)}x{counts.GetLength(1)}.", nameof(counts));
        }
        foreach (var count in counts)
        {
            if (count < 0) throw new ArgumentException($"Confusion matrix counts cannot be negative (found {count}).", nameof(counts));
        }
        return new ConfusionMatrix((long[,])counts.Clone());
    }

    /// <summary>
    /// Each row divided by its sum (scikit-learn's <c>normalize="true"</c>), so a row gives the recall of its class
    /// spread over the predictions. A row with no samples stays all zero instead of 0/0 = NaN.
    /// </summary>
    public double[,] RowNormalised()
    {
        var normalised = new double[Classes, Classes];
        for (var t = 0; t < Classes; t++)
        {
            var support = Support(t);
            if (support == 0) continue;
            for (var p = 0; p < Classes; p++) normalised[t, p] = (double)_counts[t, p] / support;
        }
        return normalised;
    }
}
