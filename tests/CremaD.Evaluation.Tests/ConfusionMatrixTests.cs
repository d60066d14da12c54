namespace CremaD.Evaluation.Tests;

public class ConfusionMatrixTests
{
    [Fact]
    public void Counts_match_the_hand_tally()
    {
        var cm = ConfusionMatrix.Compute(TestData.YTrue, TestData.YPred, 4);

        long[,] expected = { { 3, 1, 0, 0 }, { 0, 2, 0, 1 }, { 2, 1, 0, 0 }, { 0, 0, 0, 0 } };
        Assert.Equal(expected, cm.Counts);
        Assert.Equal(4, cm.Classes);
        Assert.Equal(10, cm.Total);
        Assert.Equal(5, cm.Correct);
        Assert.Equal([4L, 3, 3, 0], Enumerable.Range(0, 4).Select(cm.Support));
        Assert.Equal([5L, 4, 0, 1], Enumerable.Range(0, 4).Select(cm.Predicted));
        Assert.Equal(2, cm[2, 0]);
    }

    [Fact]
    public void Row_normalisation_divides_by_support_and_leaves_empty_rows_zero()
    {
        var normalised = ConfusionMatrix.Compute(TestData.YTrue, TestData.YPred, 4).RowNormalised();

        Assert.Equal(0.75, normalised[0, 0]);
        Assert.Equal(0.25, normalised[0, 1]);
        Assert.Equal(2.0 / 3, normalised[1, 1]);
        Assert.Equal(1.0 / 3, normalised[1, 3]);
        Assert.Equal(2.0 / 3, normalised[2, 0]);
        for (var p = 0; p < 4; p++) Assert.Equal(0.0, normalised[3, p]);
        foreach (var value in normalised) Assert.False(double.IsNaN(value));
        for (var t = 0; t < 3; t++)
        {
            Assert.Equal(1.0, Enumerable.Range(0, 4).Sum(p => normalised[t, p]), 12);
        }
    }

    [Fact]
    public void Counts_is_a_copy()
    {
        var cm = ConfusionMatrix.Compute(TestData.YTrue, TestData.YPred, 4);
        var counts = cm.Counts;
        counts[0, 0] = 999;
        Assert.Equal(3, cm[0, 0]);
    }

    [Fact]
    public void FromCounts_keeps_the_counts_and_rejects_bad_shapes()
    {
        var cm = ConfusionMatrix.FromCounts(new long[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(10, cm.Total);
        Assert.Equal(7, cm.Support(1));
        Assert.Equal(4, cm.Predicted(0));
        Assert.Equal(5, cm.Correct);

        Assert.Throws<ArgumentException>(() => ConfusionMatrix.FromCounts(new long[2, 3]));
        Assert.Throws<ArgumentException>(() => ConfusionMatrix.FromCounts(new long[0, 0]));
        Assert.Throws<ArgumentException>(() => ConfusionMatrix.FromCounts(new long[,] { { 1, -1 }, { 0, 0 } }));
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => ConfusionMatrix.Compute([0, 1, 2], [0, 1], 3));
        Assert.Contains("yTrue has 3 labels but yPred has 2", error.Message);
    }

    [Fact]
    public void Empty_input_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => ConfusionMatrix.Compute([], [], 3));
        Assert.Contains("no samples", error.Message);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(-1)]
    public void Labels_outside_the_class_range_are_rejected_with_their_position(int badLabel)
    {
        var inTruth = Assert.Throws<ArgumentOutOfRangeException>(() => ConfusionMatrix.Compute([0, 1, badLabel], [0, 1, 2], 3));
        Assert.Contains($"yTrue[2] = {badLabel} is outside the class range 0..2", inTruth.Message);
        Assert.Equal("yTrue", inTruth.ParamName);

        var inPredictions = Assert.Throws<ArgumentOutOfRangeException>(() => ConfusionMatrix.Compute([0, 1, 2], [badLabel, 1, 2], 3));
        Assert.Contains($"yPred[0] = {badLabel}", inPredictions.Message);
    }

    [Fact]
    public void At_least_one_class_is_required()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfusionMatrix.Compute([0], [0], 0));
    }
}
