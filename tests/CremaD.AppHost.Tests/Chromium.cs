using Microsoft.Playwright;

namespace CremaD.AppHost.Tests;

/// <summary>Debian's Chromium, driven by Playwright (which cannot download its own browser here).</summary>
public static class Chromium
{
    public static BrowserTypeLaunchOptions LaunchOptions() => new()
    {
        ExecutablePath = CremaD.Testing.InfrastructureCheck.ChromiumPath(),
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    };
}
