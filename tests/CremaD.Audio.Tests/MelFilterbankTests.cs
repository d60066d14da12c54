namespace CremaD.Audio.Tests;

public class MelFilterbankTests
{
    private static readonly MelFilterbank Bank = MelFilterbank.Recipe;

    [Fact]
    public void RecipeShapeAndEdges()
    {
        Assert.Equal(80, Bank.BandCount);
        Assert.Equal(513, Bank.BinCount);
        Assert.Equal(82, Bank.BandEdges.Count);
        Assert.Equal(20.0, Bank.BandEdges[0], 9);
        Assert.Equal(8000.0, Bank.BandEdges[^1], 9);
        // Equally spaced on the HTK mel scale.
        var melStep = MelFilterbank.HzToMel(Bank.BandEdges[1]) - MelFilterbank.HzToMel(Bank.BandEdges[0]);
        for (var i = 1; i < Bank.BandEdges.Count; i++)
            Assert.Equal(melStep, MelFilterbank.HzToMel(Bank.BandEdges[i]) - MelFilterbank.HzToMel(Bank.BandEdges[i - 1]), 9);
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(700.0, 781.1728)]      // 2595·log10(2)
    [InlineData(1000.0, 999.9855)]
    [InlineData(8000.0, 2840.0230)]
    public void HtkMelScale(double hz, double mel)
    {
        Assert.Equal(mel, MelFilterbank.HzToMel(hz), 3);
        Assert.Equal(hz, MelFilterbank.MelToHz(MelFilterbank.HzToMel(hz)), 9);
    }

    /// <summary>torchaudio.functional.melscale_fbanks(513, 20, 8000, 80, 16000, norm="slaney", mel_scale="htk"), written out densely.</summary>
    [Fact]
    public void DenseMatrixMatchesTorchaudioFormula()
    {
        const int bins = 513, bands = 80;
        var allFreqs = Enumerable.Range(0, bins).Select(k => 8000.0 * k / (bins - 1)).ToArray();
        double Mel(double f) => 2595.0 * Math.Log10(1.0 + f / 700.0);
        var mMin = Mel(20);
        var mMax = Mel(8000);
        var fPts = Enumerable.Range(0, bands + 2).Select(i => 700.0 * (Math.Pow(10, (mMin + (mMax - mMin) * i / (bands + 1)) / 2595.0) - 1)).ToArray();
        var dense = Bank.ToDense();
        for (var k = 0; k < bins; k++)
            for (var m = 0; m < bands; m++)
            {
                var down = (allFreqs[k] - fPts[m]) / (fPts[m + 1] - fPts[m]);
                var up = (fPts[m + 2] - allFreqs[k]) / (fPts[m + 2] - fPts[m + 1]);
                var expected = Math.Max(0, Math.Min(down, up)) * 2.0 / (fPts[m + 2] - fPts[m]);
                Assert.True(Math.Abs(expected - dense[k, m]) <= 1e-7 * Math.Max(1, expected), $"bin {k} band {m}: {dense[k, m]} vs {expected}");
            }
    }

    [Fact]
    public void FiltersAreSparseTrianglesThatOverlapOnlyTheirNeighbours()
    {
        var dense = Bank.ToDense();
        var binHz = 8000.0 / 512;
        for (var band = 0; band < Bank.BandCount; band++)
        {
            var weights = Bank.Weights(band);
            Assert.False(weights.IsEmpty);
            Assert.All(weights.ToArray(), w => Assert.True(w > 0));
            // Stored range is exactly the non-zero support.
            for (var k = 0; k < Bank.BinCount; k++)
            {
                var inside = k >= Bank.FirstBin(band) && k < Bank.FirstBin(band) + weights.Length;
                Assert.Equal(inside, dense[k, band] > 0);
            }
            // The peak sits at the bin nearest the centre frequency, with height at most 2 / (right - left).
            var peakBin = Bank.FirstBin(band) + weights.ToArray().Select((w, i) => (w, i)).MaxBy(p => p.w).i;
            Assert.True(Math.Abs(peakBin * binHz - Bank.BandEdges[band + 1]) <= binHz, $"band {band} peaks at bin {peakBin}");
            Assert.True(weights.ToArray().Max() <= 2.0 / (Bank.BandEdges[band + 2] - Bank.BandEdges[band]) + 1e-9);
        }
        for (var k = 0; k < Bank.BinCount; k++)
            Assert.True(Enumerable.Range(0, Bank.BandCount).Count(m => dense[k, m] > 0) <= 2, $"bin {k} is in more than two filters");
    }

    [Fact]
    public void SlaneyNormalisationGivesUnitAreaForWideFilters()
    {
        var binHz = 8000.0 / 512;
        for (var band = 30; band < Bank.BandCount; band++)
        {
            var area = Bank.Weights(band).ToArray().Sum() * binHz;
            Assert.InRange(area, 0.98, 1.02);
        }
    }
}
