using Microsoft.Playwright;

namespace CremaD.RunsUi.Tests;

/// <summary>
/// Debian's chromium, driven by Playwright (whose own browser download is not reachable here). Missing is a failure,
/// not a skip: the tests would otherwise pass on a machine that never ran them.
/// </summary>
internal static class Chromium
{
    /// <summary>The apt command that provides the browser, for the failure message (CI installs it).</summary>
    public const string InstallCommand = "sudo apt-get install -y chromium";

    /// <summary>Headless, and nothing a test does not need: no GPU, no background requests, no updates, no sync.</summary>
    public static BrowserTypeLaunchOptions LaunchOptions() => new()
    {
        ExecutablePath = Find(),
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    };

    /// <summary>The browser named by CREMAD_CHROMIUM, else Debian's.</summary>
    public static string Find()
    {
        var configured = Environment.GetEnvironmentVariable("CREMAD_CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"CREMAD_CHROMIUM points to '{configured}', which does not exist.");
        }
        // The binary itself rather than Debian's /usr/bin/chromium shell wrapper, when present.
        foreach (var candidate in new[] { "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser" })
        {
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            $"The runs UI's browser tests need Chromium, and none was found (/usr/lib/chromium/chromium, /usr/bin/chromium). Install it with: {InstallCommand} "
            + "(or set CREMAD_CHROMIUM to a Chromium binary).");
    }
}
