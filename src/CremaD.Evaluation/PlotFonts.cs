using SkiaSharp;

namespace CremaD.Evaluation;

/// <summary>
/// Chooses the font family the plots use. ScottPlot asks Skia for the system default, which on a minimal Linux box can
/// be a serif face or nothing at all; we pick a readable sans-serif family that is actually installed instead.
/// </summary>
public static class PlotFonts
{
    private static readonly string[] PreferredFamilies =
        ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica", "Segoe UI", "FreeSans", "Open Sans"];

    private static readonly Lazy<string> Resolved = new(Resolve, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The installed family used for every label, tick and annotation.</summary>
    /// <exception cref="InvalidOperationException">No font is installed, so no text could be drawn.</exception>
    public static string Family => Resolved.Value;

    private static string Resolve()
    {
        var installed = new HashSet<string>(SKFontManager.Default.FontFamilies, StringComparer.OrdinalIgnoreCase);
        foreach (var family in PreferredFamilies)
        {
            if (installed.Contains(family)) return family;
        }
        var sans = installed.Where(f => f.Contains("Sans", StringComparison.OrdinalIgnoreCase) && !f.Contains("Mono", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).FirstOrDefault();
        if (sans is not null) return sans;
        if (installed.Count > 0) return installed.Order(StringComparer.Ordinal).First();
        throw new InvalidOperationException(
            "No fonts are installed, so plot labels cannot be drawn. Install one (Debian/Ubuntu: apt-get install fonts-dejavu-core).");
    }
}
