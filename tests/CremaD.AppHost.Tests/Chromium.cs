using Microsoft.Playwright;

namespace CremaD.AppHost.Tests;

/// <summary>Debian's Chromium, driven by Playwright (which cannot download its own browser here).</summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static BrowserTypeLaunchOptions LaunchOptions() => new()
    {
        ExecutablePath = File.Exists(ExecutablePath)
            ? ExecutablePath
            : throw new InvalidOperationException($"{ExecutablePath} is missing: sudo apt-get install -y chromium (./test.sh installs it)."),
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    };
}
