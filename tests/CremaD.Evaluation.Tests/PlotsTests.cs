using System.Buffers.Binary;
using CremaD.Testing;
using SkiaSharp;

namespace CremaD.Evaluation.Tests;

public class PlotsTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly string _directory = TestData.NewTempDirectory();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // Without a font Skia draws no text, the layout shifts and the colour checks miss: skipped (outside CI) rather than failing obscurely.
    [RequiresInfrastructureFact(Infrastructure.Fonts)]
    public void Training_curves_are_a_1200_by_500_png_with_both_series_drawn()
    {
        var path = Path.Combine(_directory, ArtifactNames.TrainingCurves);
        var history = Enumerable.Range(1, 20)
            .Select(e => new EpochRecord(e, 2.0 / e, 0.3 + e * 0.02, 2.2 / e + 0.3, 0.25 + e * 0.015, 1e-3, 10))
            .ToArray();

        Plots.SaveTrainingCurves(history, path, bestEpoch: 17);

        Assert.Equal((Plots.CurvesWidth, Plots.CurvesHeight), ReadPngSize(path));
        Assert.Equal((1200, 500), (Plots.CurvesWidth, Plots.CurvesHeight));
        using var bitmap = Decode(path);
        // matplotlib's C0 (train), C1 (validation) and C2 (best epoch) line colours are all present.
        Assert.True(CountPixels(bitmap, new SKColor(0x1f, 0x77, 0xb4)) > 500);
        Assert.True(CountPixels(bitmap, new SKColor(0xff, 0x7f, 0x0e)) > 500);
        Assert.True(CountPixels(bitmap, new SKColor(0x2c, 0xa0, 0x2c)) > 100);
        // Both panels carry curves: the train colour appears in the left and the right half.
        Assert.True(CountPixels(bitmap, new SKColor(0x1f, 0x77, 0xb4), 0, 600) > 200);
        Assert.True(CountPixels(bitmap, new SKColor(0x1f, 0x77, 0xb4), 600, 1200) > 200);
    }

    [Fact]
    public void Training_curves_survive_a_single_epoch_and_non_finite_losses()
    {
        var path = Path.Combine(_directory, "curves.png");
        Plots.SaveTrainingCurves([new EpochRecord(1, double.NaN, 0.2, double.PositiveInfinity, 0.2, 1e-3, 5)], path);
        Assert.Equal((1200, 500), ReadPngSize(path));
    }

    [Fact]
    public void Training_curves_reject_an_empty_history_and_an_unknown_best_epoch()
    {
        var path = Path.Combine(_directory, "curves.png");
        Assert.Throws<ArgumentException>(() => Plots.SaveTrainingCurves([], path));
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => Plots.SaveTrainingCurves([new EpochRecord(1, 1, 0.2, 1, 0.2, 1e-3, 5)], path, bestEpoch: 4));
        Assert.Contains("Best epoch 4 is not in the history", error.Message);
        Assert.False(File.Exists(path));
    }

    [RequiresInfrastructureFact(Infrastructure.Fonts)]
    public void Confusion_matrix_is_an_800_by_700_png_with_true_classes_top_to_bottom()
    {
        var path = Path.Combine(_directory, ArtifactNames.ConfusionMatrix);
        var labels = Enumerable.Range(0, 60).Select(i => i % 6).ToArray();
        var cm = ConfusionMatrix.Compute(labels, labels, 6);

        Plots.SaveConfusionMatrix(cm, ["anger", "disgust", "fear", "happy", "neutral", "sad"], path);

        Assert.Equal((Plots.ConfusionWidth, Plots.ConfusionHeight), ReadPngSize(path));
        Assert.Equal((800, 700), (Plots.ConfusionWidth, Plots.ConfusionHeight));
        using var bitmap = Decode(path);
        // A perfect classifier: value 1.0 (navy) on the diagonal, 0.0 (the palest blue) elsewhere. Locate the heatmap
        // by its pale cells (left of the colour bar), then sample every cell centre: the diagonal must run from the top
        // left to the bottom right, i.e. the first true class is the top row, as with matplotlib's imshow.
        var navy = new SKColor(0x08, 0x30, 0x6b);
        var pale = new SKColor(0xf7, 0xfb, 0xff);
        int left = int.MaxValue, right = -1, top = int.MaxValue, bottom = -1;
        for (var y = 0; y < bitmap.Height; y++)
        {
            for (var x = 0; x < bitmap.Width * 7 / 8; x++)
            {
                if (!IsColour(bitmap.GetPixel(x, y), pale, tolerance: 1)) continue;
                (left, right, top, bottom) = (Math.Min(left, x), Math.Max(right, x), Math.Min(top, y), Math.Max(bottom, y));
            }
        }
        Assert.True(right - left > 300 && bottom - top > 300, $"heatmap area {left}..{right} x {top}..{bottom}");
        var (cellWidth, cellHeight) = ((right - left + 1) / 6.0, (bottom - top + 1) / 6.0);
        for (var t = 0; t < 6; t++)
        {
            for (var p = 0; p < 6; p++)
            {
                // A quarter of the way into the cell, clear of the centred value text.
                var pixel = bitmap.GetPixel((int)(left + (p + 0.25) * cellWidth), (int)(top + (t + 0.25) * cellHeight));
                Assert.True(IsColour(pixel, t == p ? navy : pale), $"cell ({t}, {p}) is {pixel}");
            }
        }
    }

    [Fact]
    public void Confusion_matrix_handles_a_class_without_samples_and_many_classes()
    {
        var path = Path.Combine(_directory, "cm.png");
        Plots.SaveConfusionMatrix(ConfusionMatrix.Compute([0, 1, 1], [1, 1, 0], 3), ["a", "b", "c"], path, "Test set");
        Assert.Equal((800, 700), ReadPngSize(path));

        var many = Enumerable.Range(0, 40).ToArray();
        Plots.SaveConfusionMatrix(ConfusionMatrix.Compute(many, many, 40), many.Select(i => $"class number {i}").ToArray(), path);
        Assert.Equal((800, 700), ReadPngSize(path));
    }

    [Fact]
    public void Confusion_matrix_needs_one_name_per_class()
    {
        var cm = ConfusionMatrix.Compute([0, 1], [0, 1], 2);
        var error = Assert.Throws<ArgumentException>(() => Plots.SaveConfusionMatrix(cm, ["a", "b", "c"], Path.Combine(_directory, "x.png")));
        Assert.Contains("3 class names for a 2-class", error.Message);
    }

    [RequiresInfrastructureFact(Infrastructure.Fonts)]
    public void The_plot_font_is_installed_so_labels_render()
    {
        // With no font at all Skia still lists one family, named "", whose typeface has no glyphs.
        Assert.False(string.IsNullOrEmpty(PlotFonts.Family), InfrastructureCheck.Missing(Infrastructure.Fonts) ?? "Skia found no font.");
        using var typeface = SKTypeface.FromFamilyName(PlotFonts.Family);
        Assert.True(typeface.GlyphCount > 0, $"The plot font '{PlotFonts.Family}' has no glyphs.");
        Assert.Equal(PlotFonts.Family, typeface.FamilyName, ignoreCase: true);
        Assert.Contains(PlotFonts.Family, SKFontManager.Default.FontFamilies, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Width and height from the IHDR chunk, after checking the PNG signature.</summary>
    internal static (int Width, int Height) ReadPngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path} is too short to be a PNG");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static SKBitmap Decode(string path) =>
        SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path} does not decode as an image");

    private static bool IsColour(SKColor pixel, SKColor colour, int tolerance = 6) =>
        Math.Abs(pixel.Red - colour.Red) <= tolerance && Math.Abs(pixel.Green - colour.Green) <= tolerance
        && Math.Abs(pixel.Blue - colour.Blue) <= tolerance;

    private static int CountPixels(SKBitmap bitmap, SKColor colour, int x0 = 0, int x1 = int.MaxValue, int y0 = 0, int y1 = int.MaxValue)
    {
        var count = 0;
        for (var y = y0; y < Math.Min(y1, bitmap.Height); y++)
        {
            for (var x = x0; x < Math.Min(x1, bitmap.Width); x++)
            {
                if (IsColour(bitmap.GetPixel(x, y), colour)) count++;
            }
        }
        return count;
    }
}
