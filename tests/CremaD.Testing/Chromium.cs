using Microsoft.Playwright;

namespace CremaD.Testing;

/// <summary>
/// The one way tests start a browser: Debian's Chromium (or CREMAD_CHROMIUM, see <see cref="InfrastructureCheck"/>),
/// driven by Playwright, whose own browser download is not reachable here. Tests that use it are marked
/// <c>[RequiresInfrastructureFact(Infrastructure.Chromium)]</c>.
/// </summary>
public static class Chromium
{
    /// <summary>Headless, and nothing a test does not need: no GPU, no background requests, no updates, no sync.</summary>
    public static BrowserTypeLaunchOptions LaunchOptions() => new()
    {
        ExecutablePath = InfrastructureCheck.ChromiumPath(),
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    };
}
