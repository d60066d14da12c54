using CremaD.Datasets;
using System.Globalization;
using ScottPlot;
using SkiaSharp;

namespace CremaD.Evaluation;

/// <summary>The PNG figures of a run: training curves, the normalised confusion matrix and the model card.</summary>
public static class Plots
{
    /// <summary>Size of training_curves.png: matplotlib's figsize=(12, 5) at 100 dpi.</summary>
    public const int CurvesWidth = 1200, CurvesHeight = 500;

    /// <summary>Size of confusion_matrix.png.</summary>
    public const int ConfusionWidth = 800, ConfusionHeight = 700;

    private const float TitleSize = 20, AxisLabelSize = 16, TickSize = 14, LegendSize = 14;

    private static readonly Color TrainColor = Color.FromHex("#1f77b4");      // matplotlib C0
    private static readonly Color ValidationColor = Color.FromHex("#ff7f0e"); // matplotlib C1
    private static readonly Color BestColor = Color.FromHex("#2ca02c");       // matplotlib C2

    /// <summary>
    /// Two panels side by side: loss (train vs validation) and accuracy (train vs validation) per epoch.
    /// <paramref name="bestEpoch"/> (the epoch whose weights were kept) is marked with a dashed line in both panels.
    /// Non-finite losses (a diverged epoch) leave a gap rather than wrecking the axis range.
    /// </summary>
    public static void SaveTrainingCurves(IReadOnlyList<EpochRecord> history, string pngPath, int? bestEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentException.ThrowIfNullOrEmpty(pngPath);
        if (history.Count == 0) throw new ArgumentException("The training history has no epochs to plot.", nameof(history));
        UseInstalledFont();
        if (bestEpoch is { } best && !history.Any(e => e.Epoch == best))
        {
            throw new ArgumentOutOfRangeException(nameof(bestEpoch), best, $"Best epoch {best} is not in the history.");
        }

        var epochs = history.Select(e => (double)e.Epoch).ToArray();
        using var lossPlot = new Plot();
        using var accuracyPlot = new Plot();
        var (firstEpoch, lastEpoch) = (epochs.Min(), epochs.Max());
        var showMarkers = history.Count <= 40;

        AddSeries(lossPlot, epochs, history.Select(e => e.TrainLoss).ToArray(), "Train", TrainColor, showMarkers);
        AddSeries(lossPlot, epochs, history.Select(e => e.ValidationLoss).ToArray(), "Validation", ValidationColor, showMarkers);
        AddSeries(accuracyPlot, epochs, history.Select(e => e.TrainAccuracy).ToArray(), "Train", TrainColor, showMarkers);
        AddSeries(accuracyPlot, epochs, history.Select(e => e.ValidationAccuracy).ToArray(), "Validation", ValidationColor, showMarkers);

        if (bestEpoch is { } bestValue)
        {
            var bestRecord = history.Last(e => e.Epoch == bestValue);
            AddBestEpochLine(lossPlot, bestValue, $"Best epoch {bestValue}");
            AddBestEpochLine(accuracyPlot, bestValue,
                $"Best epoch {bestValue} (val {bestRecord.ValidationAccuracy.ToString("0.000", CultureInfo.InvariantCulture)})");
        }

        var lossRange = LossRange(history);
        var accuracyRange = new ScottPlot.Range(0, 1.02);
        StyleCurvePanel(lossPlot, "Loss", "Loss", firstEpoch, lastEpoch, lossRange);
        StyleCurvePanel(accuracyPlot, "Accuracy", "Accuracy", firstEpoch, lastEpoch, accuracyRange);

        var multiplot = new Multiplot(lossPlot) { Layout = new ScottPlot.MultiplotLayouts.Columns() };
        multiplot.AddPlot(accuracyPlot);
        SavePng(pngPath, CurvesWidth, CurvesHeight, canvas => multiplot.Render(canvas, new PixelRect(0, CurvesWidth, CurvesHeight, 0)));
    }

    /// <summary>
    /// Heatmap of the row-normalised matrix (each row sums to 1; rows are true classes from top to bottom, columns
    /// predicted classes) with a 0..1 colour bar and the value written in every cell.
    /// </summary>
    public static void SaveConfusionMatrix(
        ConfusionMatrix cm, IReadOnlyList<string> classNames, string pngPath, string title = "Confusion matrix (row-normalised)")
    {
        ArgumentNullException.ThrowIfNull(cm);
        LabelValidation.CheckClassNames(classNames, nameof(classNames));
        ArgumentException.ThrowIfNullOrEmpty(pngPath);
        ArgumentNullException.ThrowIfNull(title);
        if (classNames.Count != cm.Classes)
        {
            throw new ArgumentException($"There are {classNames.Count} class names for a {cm.Classes}-class confusion matrix.", nameof(classNames));
        }

        UseInstalledFont();
        var k = cm.Classes;
        var normalised = cm.RowNormalised();
        using var plot = new Plot();
        var colormap = new MatplotlibBlues();
        var heatmap = plot.Add.Heatmap(normalised);
        heatmap.Colormap = colormap;
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Cell (t, p) centred on x = p, y = k-1-t: integer tick positions, first true class at the top.
        heatmap.Rectangle = new CoordinateRect(-0.5, k - 0.5, -0.5, k - 0.5);

        // "0.00" is about 2.5 em wide; the data area is roughly 450 px across. Below 7 px the numbers are unreadable,
        // so large matrices show colour only.
        var cellFontSize = Math.Min(18f, 450f / k / 3f);
        var annotateCells = cellFontSize >= 7f;
        for (var t = 0; t < k && annotateCells; t++)
        {
            for (var p = 0; p < k; p++)
            {
                var value = normalised[t, p];
                var text = plot.Add.Text(value.ToString("0.00", CultureInfo.InvariantCulture), p, k - 1 - t);
                text.LabelFontSize = cellFontSize;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontColor = IsDark(colormap.GetColor(value)) ? Colors.White : Colors.Black;
                text.LabelFontName = PlotFonts.Family;
            }
        }

        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "Fraction of true class";
        colorBar.LabelStyle.FontSize = AxisLabelSize;
        colorBar.Axis.TickLabelStyle.FontSize = TickSize;
        var colorTicks = Enumerable.Range(0, 6).Select(i => i / 5.0).ToArray();
        colorBar.Axis.SetTicks(colorTicks, colorTicks.Select(v => v.ToString("0.0", CultureInfo.InvariantCulture)).ToArray());

        var positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, classNames.ToArray());
        plot.Axes.Left.SetTicks(positions, Enumerable.Range(0, k).Select(t => $"{classNames[k - 1 - t]} (n={cm.Support(k - 1 - t)})").ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = TickSize;
        plot.Axes.Left.TickLabelStyle.FontSize = TickSize;
        var widestName = MeasureWidth(classNames, TickSize);
        if (widestName > 450f / k * 0.9f)
        {
            // Names wider than their column: slant them as matplotlib's rotation=45, ha="right" does, ending at the tick,
            // and reserve the height they need (ScottPlot sizes the axis for horizontal labels).
            plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = (widestName + TickSize) * MathF.Sqrt(0.5f) + AxisLabelSize * 2 + 12;
        }
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.MinorTickStyle.Length = 0;
        plot.Axes.Left.MinorTickStyle.Length = 0;
        plot.HideGrid();
        plot.Title(title, TitleSize);
        plot.XLabel("Predicted", AxisLabelSize);
        plot.YLabel("True", AxisLabelSize);
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.Font.Set(PlotFonts.Family);

        SavePng(pngPath, ConfusionWidth, ConfusionHeight, canvas => plot.Render(canvas, ConfusionWidth, ConfusionHeight));
    }

    /// <summary>Longest partition description the model card plot's title spells out.</summary>
    private const int MaxPartitionInTitle = 24;

    /// <summary>Size of model_card.png.</summary>
    public const int ModelCardWidth = 1000, ModelCardHeight = 760;

    /// <summary>
    /// The model card as bars: one row per speaker group (sex, age band, race, ethnicity, in the card's order), accuracy
    /// and macro-F1 side by side, the overall accuracy as a dashed line. A group with too few clips or actors gets no bar
    /// and says so, so an absent bar is never read as 0 %.
    /// </summary>
    public static void SaveModelCard(ModelCard card, string pngPath)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentException.ThrowIfNullOrEmpty(pngPath);
        UseInstalledFont();
        using var plot = new Plot();
        var groups = card.Groups;
        var count = groups.Count;
        var accuracyBars = new List<Bar>();
        var f1Bars = new List<Bar>();
        var labels = new string[count];
        for (var i = 0; i < count; i++)
        {
            var group = groups[i];
            // Top to bottom in card order: row i at y = count − 1 − i.
            double y = count - 1 - i;
            labels[i] = $"{ModelCard.AttributeName(group.Attribute)}: {group.Group} ({group.Clips} clips, {group.Actors} {(group.Actors == 1 ? "actor" : "actors")})";
            if (group.TooFew)
            {
                var note = plot.Add.Text("too few to report", 0.01, y);
                note.LabelFontSize = TickSize - 2;
                note.LabelAlignment = Alignment.MiddleLeft;
                note.LabelFontColor = Colors.Gray;
                note.LabelFontName = PlotFonts.Family;
                continue;
            }
            accuracyBars.Add(new Bar { Position = y + 0.18, Value = group.Accuracy!.Value, Size = 0.34, FillColor = TrainColor, Orientation = Orientation.Horizontal });
            f1Bars.Add(new Bar { Position = y - 0.18, Value = group.MacroF1!.Value, Size = 0.34, FillColor = ValidationColor, Orientation = Orientation.Horizontal });
        }
        var accuracy = plot.Add.Bars(accuracyBars);
        accuracy.Horizontal = true;
        accuracy.LegendText = "Accuracy";
        var f1 = plot.Add.Bars(f1Bars);
        f1.Horizontal = true;
        f1.LegendText = "Macro-F1";
        if (accuracyBars.Count == 0) accuracy.LegendText = f1.LegendText = "";
        var overall = plot.Add.VerticalLine(card.Accuracy, 1.5f, BestColor, LinePattern.Dashed);
        overall.LegendText = $"Overall accuracy {(100 * card.Accuracy).ToString("0.0", CultureInfo.InvariantCulture)} %";

        var positions = Enumerable.Range(0, count).Select(i => (double)(count - 1 - i)).ToArray();
        plot.Axes.Left.SetTicks(positions, labels);
        plot.Axes.Left.TickLabelStyle.FontSize = TickSize - 2;
        plot.Axes.Bottom.TickLabelStyle.FontSize = TickSize;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Left.MinorTickStyle.Length = 0;
        plot.Axes.Left.MinimumSize = MeasureWidth(labels, TickSize - 2) + 16;
        plot.Axes.SetLimits(0, 1.0, -0.7, count - 0.3);
        var gap = card.LargestAccuracyGap is { } g
            ? $"largest accuracy gap {(100 * g.Gap).ToString("0.0", CultureInfo.InvariantCulture)} points ({ModelCard.AttributeName(g.Attribute)})"
            : "no attribute with two reportable groups";
        // A run's card names its partition ("test"); a merged card's description is a sentence, too long for a title.
        var partition = card.Subject.Partition.Length <= MaxPartitionInTitle ? $"{Capitalised(card.Subject.Partition)} set" : "Held-out speakers";
        plot.Title($"{partition} by speaker group: {gap}", TitleSize - 4);
        plot.XLabel("Fraction (accuracy, macro-F1)", AxisLabelSize);
        plot.Font.Set(PlotFonts.Family);
        var legend = plot.ShowLegend(Alignment.LowerRight);
        legend.FontSize = LegendSize;
        legend.FontName = PlotFonts.Family;
        legend.ShadowColor = Colors.Transparent;
        legend.OutlineColor = Colors.Gray;
        var height = Math.Max(ModelCardHeight, 120 + 34 * count);
        SavePng(pngPath, ModelCardWidth, height, canvas => plot.Render(canvas, ModelCardWidth, height));
    }

    private static string Capitalised(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>
    /// Points ScottPlot's process-wide default at an installed sans-serif family; it would otherwise take Skia's
    /// system default (a serif face on Debian) for any text we do not style explicitly, such as legend fallbacks.
    /// </summary>
    private static void UseInstalledFont() => Fonts.Default = PlotFonts.Family;

    private static void AddSeries(Plot plot, double[] epochs, double[] values, string label, Color color, bool showMarkers)
    {
        // ScottPlot draws NaN as a gap; infinities would blow up the autoscale, so they become gaps too.
        var finite = values.Select(v => double.IsFinite(v) ? v : double.NaN).ToArray();
        var scatter = plot.Add.Scatter(epochs, finite, color);
        scatter.LegendText = label;
        scatter.LineWidth = 2.5f;
        scatter.MarkerSize = showMarkers ? 6 : 0;
    }

    private static void AddBestEpochLine(Plot plot, int bestEpoch, string legend)
    {
        var line = plot.Add.VerticalLine(bestEpoch, 1.5f, BestColor, LinePattern.Dashed);
        line.LegendText = legend;
    }

    private static void StyleCurvePanel(Plot plot, string title, string yLabel, double firstEpoch, double lastEpoch, ScottPlot.Range yRange)
    {
        plot.Title(title, TitleSize);
        plot.XLabel("Epoch", AxisLabelSize);
        plot.YLabel(yLabel, AxisLabelSize);
        plot.Axes.Bottom.TickLabelStyle.FontSize = TickSize;
        plot.Axes.Left.TickLabelStyle.FontSize = TickSize;
        // Whole epochs only: a fractional tick such as 2.5 means nothing.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        var margin = Math.Max(0.5, (lastEpoch - firstEpoch) * 0.02);
        var xRange = new ScottPlot.Range(firstEpoch - margin, lastEpoch + margin);
        plot.Axes.SetLimits(xRange.Min, xRange.Max, yRange.Min, yRange.Max);
        plot.Font.Set(PlotFonts.Family);
        var legend = plot.ShowLegend(EmptiestCorner(plot, xRange, yRange));
        legend.FontSize = LegendSize;
        legend.FontName = PlotFonts.Family;
        legend.ShadowColor = Colors.Transparent;
        legend.OutlineColor = Colors.Gray;
    }

    /// <summary>
    /// The corner whose quarter of the data area holds the fewest points, as matplotlib's <c>loc="best"</c> does,
    /// so the legend never sits on top of the curves it explains.
    /// </summary>
    private static Alignment EmptiestCorner(Plot plot, ScottPlot.Range xRange, ScottPlot.Range yRange)
    {
        var points = plot.GetPlottables<ScottPlot.Plottables.Scatter>()
            .SelectMany(s => s.Data.GetScatterPoints())
            .Where(p => double.IsFinite(p.Y))
            .Select(p => ((p.X - xRange.Min) / (xRange.Max - xRange.Min), (p.Y - yRange.Min) / (yRange.Max - yRange.Min)))
            .ToArray();
        // Legend box: roughly 40% of the width and 30% of the height of a panel; upper right wins ties, as in matplotlib.
        (Alignment Corner, Func<double, double, bool> Inside)[] corners =
        [
            (Alignment.UpperRight, (x, y) => x >= 0.6 && y >= 0.7),
            (Alignment.UpperLeft, (x, y) => x <= 0.4 && y >= 0.7),
            (Alignment.LowerLeft, (x, y) => x <= 0.4 && y <= 0.3),
            (Alignment.LowerRight, (x, y) => x >= 0.6 && y <= 0.3),
        ];
        return corners.MinBy(c => points.Count(p => c.Inside(p.Item1, p.Item2))).Corner;
    }

    private static ScottPlot.Range LossRange(IReadOnlyList<EpochRecord> history)
    {
        var losses = history.SelectMany(e => new[] { e.TrainLoss, e.ValidationLoss }).Where(double.IsFinite).ToArray();
        if (losses.Length == 0) return new ScottPlot.Range(0, 1);
        // Fit the data with 5% headroom, like matplotlib's autoscale, but never dip below zero for non-negative losses.
        var (min, max) = (losses.Min(), losses.Max());
        var padding = max > min ? (max - min) * 0.05 : Math.Max(Math.Abs(max) * 0.05, 0.05);
        var low = min - padding;
        if (min >= 0 && low < 0) low = 0;
        return new ScottPlot.Range(low, max + padding);
    }

    private static float MeasureWidth(IEnumerable<string> texts, float size)
    {
        using var typeface = SKTypeface.FromFamilyName(PlotFonts.Family);
        using var font = new SKFont(typeface, size);
        return texts.Max(text => font.MeasureText(text));
    }

    /// <summary>Relative luminance below one half: dark enough that black text would be hard to read.</summary>
    private static bool IsDark(Color color) =>
        (0.2126 * color.Red + 0.7152 * color.Green + 0.0722 * color.Blue) / 255.0 < 0.5;

    private static void SavePng(string pngPath, int width, int height, Action<SKCanvas> render)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var surface = SKSurface.Create(info) ?? throw new InvalidOperationException($"Skia could not create a {width}x{height} surface.");
        surface.Canvas.Clear(SKColors.White);
        render(surface.Canvas);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(pngPath, png.ToArray());
    }

    /// <summary>matplotlib's "Blues" (the ColorBrewer sequential scheme it interpolates linearly): white at 0, navy at 1.</summary>
    private sealed class MatplotlibBlues : IColormap
    {
        private static readonly Color[] Anchors = new[]
        {
            "#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b",
        }.Select(Color.FromHex).ToArray();

        public string Name => "Blues";

        public Color GetColor(double position)
        {
            if (double.IsNaN(position)) return Colors.Transparent;
            var scaled = Math.Clamp(position, 0, 1) * (Anchors.Length - 1);
            var lower = Math.Min((int)scaled, Anchors.Length - 2);
            var fraction = scaled - lower;
            var (a, b) = (Anchors[lower], Anchors[lower + 1]);
            return new Color(Mix(a.Red, b.Red, fraction), Mix(a.Green, b.Green, fraction), Mix(a.Blue, b.Blue, fraction));
        }

        private static byte Mix(byte from, byte to, double fraction) => (byte)Math.Round(from + (to - from) * fraction);
    }
}
