using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>What one run of the bicep CLI printed and returned.</summary>
/// <param name="ExitCode">Process exit code.</param>
/// <param name="StandardOutput">Everything written to stdout.</param>
/// <param name="StandardError">Everything written to stderr (bicep's diagnostics go here).</param>
public sealed record BicepRun(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs the real Bicep compiler. Each template is compiled once per test run and shared by the tests.</summary>
public static class BicepCli
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<BicepRun>>> Builds = new(StringComparer.Ordinal);

    /// <summary><c>bicep build FILE --stdout --no-restore</c>, cached per file.</summary>
    public static Task<BicepRun> BuildAsync(string bicepFile) =>
        Builds.GetOrAdd(Path.GetFullPath(bicepFile), file => new Lazy<Task<BicepRun>>(
            () => RunAsync(["build", file, "--stdout", "--no-restore"]))).Value;

    /// <summary>The ARM template <paramref name="bicepFile"/> compiles to; fails the test when compilation fails.</summary>
    public static async Task<JsonObject> CompileAsync(string bicepFile)
    {
        var run = await BuildAsync(bicepFile);
        Assert.True(run.ExitCode == 0, $"bicep build {bicepFile} failed ({run.ExitCode}):\n{run.StandardError}");
        return JsonNode.Parse(run.StandardOutput)!.AsObject();
    }

    /// <summary>Runs bicep with <paramref name="arguments"/> in the repository root.</summary>
    public static async Task<BicepRun> RunAsync(IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(Repository.BicepExecutable)
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // No telemetry, and no first-run network calls from the compiler's .NET host.
        start.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bicep did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} ran over 3 minutes");
        }
        return new BicepRun(process.ExitCode, await stdout, await stderr);
    }
}
