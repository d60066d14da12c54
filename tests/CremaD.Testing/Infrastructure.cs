using CremaD.LocalInfrastructure;

namespace CremaD.Testing;

/// <summary>Pieces of the machine, outside the repository's build, that some tests need.</summary>
[Flags]
public enum Infrastructure
{
    None = 0,

    /// <summary>Debian's rabbitmq-server (each test or fixture starts its own private broker).</summary>
    RabbitMq = 1,

    /// <summary>The repository's Azurite (<c>node_modules/.bin/azurite</c>, from <c>npm ci</c>) and <c>node</c> to run it.</summary>
    Azurite = 2,

    /// <summary>A Chromium binary for the dashboard's browser tests (Playwright drives it; it cannot download its own here).</summary>
    Chromium = 4,

    /// <summary>At least one font file, so plot labels are drawn.</summary>
    Fonts = 8,
}

/// <summary>Where <see cref="InfrastructureCheck"/> looks; <see cref="ForThisMachine"/> is what the tests use, other values are for testing the check itself.</summary>
/// <param name="RabbitMqServer">The broker's start script, as <see cref="RabbitMqInstance"/> runs it.</param>
/// <param name="Azurite">The Azurite launcher, as <see cref="AzuriteInstance"/> runs it; null when there is no repository root to look in.</param>
/// <param name="SearchPath">The PATH that must hold <c>node</c> (the launcher is a <c>#!/usr/bin/env node</c> script).</param>
/// <param name="ChromiumOverride">CREMAD_CHROMIUM: a browser binary that, when set, is the only candidate.</param>
/// <param name="ChromiumCandidates">Where Debian's chromium package puts the browser; the first that exists is used.</param>
/// <param name="FontDirectory">The folder the plots' font manager scans (SkiaSharp's Linux build reads /usr/share/fonts, recursively).</param>
public sealed record InfrastructureLocations(
    string RabbitMqServer,
    string? Azurite,
    string? SearchPath,
    string? ChromiumOverride,
    IReadOnlyList<string> ChromiumCandidates,
    string FontDirectory)
{
    /// <summary>The binary itself first, rather than Debian's /usr/bin/chromium shell wrapper, when present.</summary>
    public static readonly IReadOnlyList<string> DebianChromium = ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];

    /// <summary>The paths the tests and <c>CremaD.LocalInfrastructure</c> really use on this machine.</summary>
    public static InfrastructureLocations ForThisMachine()
    {
        string? azurite;
        try
        {
            azurite = AzuriteInstance.DefaultExecutablePath();
        }
        catch (DirectoryNotFoundException)
        {
            azurite = null; // a test assembly outside a checkout: no node_modules to look in
        }
        return new InfrastructureLocations(
            new RabbitMqOptions().ServerPath,
            azurite,
            Environment.GetEnvironmentVariable("PATH"),
            Environment.GetEnvironmentVariable("CREMAD_CHROMIUM") is { Length: > 0 } configured ? configured : null,
            DebianChromium,
            "/usr/share/fonts");
    }
}

/// <summary>
/// Whether the infrastructure a test needs is on this machine, and the one line that says what is missing and how to
/// install it. The single place that knows where each piece lives: the <c>RequiresInfrastructure</c> attributes and the
/// fixtures ask it, and so can any test project. Outside CI a missing piece skips the tests that need it; under CI
/// (<see cref="IsContinuousIntegration"/>) nothing is skipped, so a missing piece fails the tests and CI cannot pass by
/// skipping them.
/// </summary>
public static class InfrastructureCheck
{
    /// <summary>The command that installs everything the tests need and runs them (repository root).</summary>
    public const string TestCommand = "./test.sh";

    private static readonly Infrastructure[] Pieces = [Infrastructure.RabbitMq, Infrastructure.Azurite, Infrastructure.Chromium, Infrastructure.Fonts];

    // Nothing is installed or removed while a test run is under way; file probes are cheap, but once per piece is enough.
    private static readonly Lazy<InfrastructureLocations> ThisMachine = new(InfrastructureLocations.ForThisMachine);
    private static readonly Dictionary<Infrastructure, Lazy<Problem?>> ThisMachineProblems =
        Pieces.ToDictionary(piece => piece, piece => new Lazy<Problem?>(() => Probe(piece, ThisMachine.Value)));

    /// <summary>True when the CI variable is set to anything but empty, "false" or "0" (CI systems set CI=true).</summary>
    public static bool IsContinuousIntegration => IsContinuousIntegrationValue(Environment.GetEnvironmentVariable("CI"));

    public static bool IsContinuousIntegrationValue(string? value) =>
        !string.IsNullOrWhiteSpace(value)
        && !value.Trim().Equals("false", StringComparison.OrdinalIgnoreCase)
        && value.Trim() != "0";

    /// <summary>Null when every piece of <paramref name="needed"/> is here; otherwise one line naming what is missing and how to install it.</summary>
    public static string? Missing(Infrastructure needed) =>
        Describe(Pieces.Where(piece => needed.HasFlag(piece)).Select(piece => ThisMachineProblems[piece].Value));

    /// <summary>The same check against other <paramref name="locations"/> (for testing the check).</summary>
    public static string? Missing(Infrastructure needed, InfrastructureLocations locations) =>
        Describe(Pieces.Where(piece => needed.HasFlag(piece)).Select(piece => Probe(piece, locations)));

    /// <summary>Why a test that needs <paramref name="needed"/> is skipped: null under CI (it runs, and fails if a piece is missing) or when nothing is missing.</summary>
    public static string? SkipReason(Infrastructure needed) => SkipReason(Missing(needed), IsContinuousIntegration);

    public static string? SkipReason(string? missing, bool continuousIntegration) => continuousIntegration ? null : missing;

    /// <summary>The Chromium binary the browser tests should launch.</summary>
    /// <exception cref="InvalidOperationException">None is installed; the message says how to install it.</exception>
    public static string ChromiumPath() => ChromiumPath(ThisMachine.Value);

    public static string ChromiumPath(InfrastructureLocations locations) =>
        FindChromium(locations) ?? throw new InvalidOperationException(Missing(Infrastructure.Chromium, locations));

    /// <summary>The first executable file named <paramref name="program"/> in the folders of <paramref name="searchPath"/>.</summary>
    public static string? FindOnPath(string program, string? searchPath) =>
        (searchPath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, program))
        .FirstOrDefault(IsExecutableFile);

    private static Problem? Probe(Infrastructure piece, InfrastructureLocations at) => piece switch
    {
        Infrastructure.RabbitMq => File.Exists(at.RabbitMqServer)
            ? null
            : new Problem("rabbitmq-server", $"{at.RabbitMqServer} not found", RabbitMqInstance.InstallCommand),
        Infrastructure.Azurite => ProbeAzurite(at),
        Infrastructure.Chromium => FindChromium(at) is not null
            ? null
            : new Problem("Chromium",
                at.ChromiumOverride is not null
                    ? $"CREMAD_CHROMIUM={at.ChromiumOverride} not found"
                    : $"none of {string.Join(", ", at.ChromiumCandidates)} found",
                "sudo apt-get install -y chromium"),
        Infrastructure.Fonts => HasFontFiles(at.FontDirectory)
            ? null
            : new Problem("a font for plot labels", $"no .ttf/.otf/.ttc/.pfb file under {at.FontDirectory}", "sudo apt-get install -y fonts-dejavu-core"),
        _ => throw new ArgumentOutOfRangeException(nameof(piece), piece, "not a single piece of infrastructure"),
    };

    private static Problem? ProbeAzurite(InfrastructureLocations at)
    {
        const string install = $"{AzuriteInstance.InstallCommand} (in the repository root)";
        if (at.Azurite is null)
        {
            return new Problem("Azurite", "no repository root (CremaD.sln) above the test assembly", install);
        }
        if (!File.Exists(at.Azurite))
        {
            return new Problem("Azurite", $"{at.Azurite} not found", install);
        }
        return FindOnPath("node", at.SearchPath) is null
            ? new Problem("Azurite", "node is not on PATH", "install Node.js 20 (https://nodejs.org)")
            : null;
    }

    private static string? FindChromium(InfrastructureLocations at) =>
        at.ChromiumOverride is not null
            ? (File.Exists(at.ChromiumOverride) ? at.ChromiumOverride : null)
            : at.ChromiumCandidates.FirstOrDefault(File.Exists);

    private static readonly string[] FontExtensions = [".ttf", ".otf", ".ttc", ".pfb"];

    private static bool HasFontFiles(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return false;
        }
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        return Directory.EnumerateFiles(directory, "*", options)
            .Any(file => FontExtensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase));
    }

    private static bool IsExecutableFile(string path) =>
        File.Exists(path) && (OperatingSystem.IsWindows()
            || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

    /// <summary>
    /// "needs rabbitmq-server (/usr/lib/rabbitmq/bin/rabbitmq-server not found): run ./test.sh, or sudo apt-get install -y rabbitmq-server";
    /// several pieces are joined with "and", their install commands with "; ".
    /// </summary>
    private static string? Describe(IEnumerable<Problem?> problems)
    {
        var missing = problems.OfType<Problem>().ToList();
        if (missing.Count == 0)
        {
            return null;
        }
        var what = string.Join(" and ", missing.Select(problem => $"{problem.Piece} ({problem.Detail})"));
        var how = string.Join("; ", missing.Select(problem => problem.Install).Distinct());
        return $"needs {what}: run {TestCommand}, or {how}";
    }

    private sealed record Problem(string Piece, string Detail, string Install);
}
