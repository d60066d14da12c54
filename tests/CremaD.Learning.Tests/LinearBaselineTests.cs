using CremaD.Datasets;

namespace CremaD.Learning.Tests;

public class LinearBaselineTests
{
    [Fact]
    public void Utterance_statistics_are_each_bands_mean_then_standard_deviation()
    {
        var bands = FeatureChecks.Bands;
        var data = new float[3 * bands];
        for (var frame = 0; frame < 3; frame++)
        {
            for (var band = 0; band < bands; band++) data[frame * bands + band] = band + 2 * frame; // band b: b, b + 2, b + 4
        }
        var statistics = LinearBaseline.UtteranceStatistics(new FeatureClip("c", 0, 3, data));
        Assert.Equal(2 * bands, statistics.Length);
        Assert.Equal(7f, statistics[5], 5);                                   // mean of 5, 7, 9
        Assert.Equal((float)Math.Sqrt(8.0 / 3), statistics[bands + 5], 5);    // population sd of 5, 7, 9
    }

    [Fact]
    public void It_learns_separable_classes_and_is_deterministic()
    {
        var partitions = new Dictionary<Partition, IReadOnlyList<FeatureClip>>
        {
            [Partition.Train] = SyntheticData.Clips(60, 1, "train"),
            [Partition.Validation] = SyntheticData.Clips(30, 2, "validation"),
            [Partition.Test] = SyntheticData.Clips(30, 3, "test"),
        };
        var first = LinearBaseline.Fit(partitions, SyntheticData.ClassNames, "synthetic");
        var test = Assert.Single(first.Scores, s => s.Partition == "test");
        Assert.True(test.Accuracy >= 0.9, $"test accuracy {test.Accuracy}");
        Assert.Equal(30, test.Clips);
        Assert.Equal(3, first.Scores.Count);
        var second = LinearBaseline.Fit(partitions, SyntheticData.ClassNames, "synthetic");
        Assert.Equal(first.Scores, second.Scores);
        Assert.Throws<InvalidDataException>(() => LinearBaseline.Fit(new Dictionary<Partition, IReadOnlyList<FeatureClip>>(), SyntheticData.ClassNames, "empty"));
    }
}
