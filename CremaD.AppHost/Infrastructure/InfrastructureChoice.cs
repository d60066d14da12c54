using System.Diagnostics;
using CremaD.LocalInfrastructure;

namespace CremaD.AppHost.Infrastructure;

/// <summary>Where one piece of infrastructure comes from.</summary>
public enum InfrastructureSource
{
    /// <summary>A connection string in configuration (<c>ConnectionStrings:messaging</c> / <c>ConnectionStrings:blobs</c>).</summary>
    Configuration,

    /// <summary>A container (RabbitMQ, Azurite) run by DCP with Docker or Podman.</summary>
    Container,

    /// <summary>A private local server run by DCP: Debian's rabbitmq-server, the repository's Azurite.</summary>
    LocalBinary,

    /// <summary>Inside the all-in-one services host: in-memory transport, local-folder blob store.</summary>
    Embedded,
}

/// <summary>How the AppHost runs the services: separate processes over a broker, or one all-in-one host.</summary>
public enum AppHostMode
{
    Auto,
    Distributed,
    Embedded,
}

/// <summary>The AppHost's decision, with the reasons it prints.</summary>
public sealed record InfrastructurePlan(bool Embedded, InfrastructureSource Messaging, InfrastructureSource Blobs, IReadOnlyList<string> Reasons)
{
    /// <summary>One line for the console: the mode and where each piece comes from.</summary>
    public string Summary => Embedded
        ? $"embedded mode: one all-in-one services host, in-memory transport, blobs from {Describe(Blobs)}"
        : $"distributed mode: messaging from {Describe(Messaging)}, blobs from {Describe(Blobs)}, one process per service";

    private static string Describe(InfrastructureSource source) => source switch
    {
        InfrastructureSource.Configuration => "configuration",
        InfrastructureSource.Container => "a container",
        InfrastructureSource.LocalBinary => "a local binary",
        _ => "a local folder",
    };
}

/// <summary>What the machine offers, as the selector sees it (a seam for tests).</summary>
/// <param name="ContainerRuntime">docker or podman on PATH whose daemon answers, else null.</param>
public sealed record MachineInfrastructure(string? ContainerRuntime, bool RabbitMqServerInstalled, bool AzuriteInstalled,
    string RabbitMqServerPath, string AzuritePath)
{
    /// <summary>The repository's Azurite launcher (installed by <c>npm ci</c>).</summary>
    public static string AzuriteLauncher(string repositoryRoot) => Path.Combine(repositoryRoot, "node_modules", ".bin", "azurite");

    /// <summary>Looks at this machine: docker/podman (and whether the daemon answers), rabbitmq-server, the repository's Azurite and node.</summary>
    public static MachineInfrastructure Detect(string repositoryRoot)
    {
        string? runtime = null;
        foreach (var candidate in new[] { "docker", "podman" })
        {
            var path = FindOnPath(candidate);
            if (path is not null && Answers(path, "info", "--format", "{{.ServerVersion}}"))
            {
                runtime = path;
                break;
            }
        }
        var azurite = AzuriteLauncher(repositoryRoot);
        return new MachineInfrastructure(runtime, File.Exists(RabbitMqNode.DefaultServerPath), File.Exists(azurite) && FindOnPath("node") is not null,
            RabbitMqNode.DefaultServerPath, azurite);
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, program))
        .FirstOrDefault(File.Exists);

    /// <summary>Runs the command for at most 15 s; true when it exits 0 (the Docker client alone, with no engine, fails).</summary>
    private static bool Answers(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(15)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>
/// Decides where messaging and blobs come from, in this order: connection strings in configuration, a container
/// runtime, local binaries, otherwise the embedded mode. Without a broker separate processes cannot talk, so no
/// messaging source means embedded mode (blobs may still come from configuration).
/// </summary>
public static class InfrastructureSelector
{
    public const string Messaging = "messaging";
    public const string Blobs = "blobs";

    public static InfrastructurePlan Choose(AppHostMode mode, ISet<string> configuredConnectionStrings, MachineInfrastructure machine)
    {
        var reasons = new List<string>();
        var blobsConfigured = configuredConnectionStrings.Contains(Blobs);
        if (mode == AppHostMode.Embedded)
        {
            reasons.Add("--mode embedded was given");
            if (blobsConfigured) reasons.Add("blobs: ConnectionStrings:blobs is set");
            return new InfrastructurePlan(true, InfrastructureSource.Embedded,
                blobsConfigured ? InfrastructureSource.Configuration : InfrastructureSource.Embedded, reasons);
        }

        var messaging = Pick(Messaging, configuredConnectionStrings.Contains(Messaging), machine.ContainerRuntime, machine.RabbitMqServerInstalled,
            $"rabbitmq-server ({machine.RabbitMqServerPath})", reasons);
        var blobs = Pick(Blobs, blobsConfigured, machine.ContainerRuntime, machine.AzuriteInstalled,
            $"Azurite ({machine.AzuritePath}, with node on PATH)", reasons);
        if (messaging is null || blobs is null)
        {
            if (mode == AppHostMode.Distributed)
            {
                throw new InvalidOperationException(
                    $"--mode distributed needs a RabbitMQ broker and blob storage, and nothing provides {(messaging is null ? "the broker" : "blob storage")}: " +
                    string.Join("; ", reasons) + ". " + InstallHint);
            }
            reasons.Add("no broker and blob storage for separate processes, so every service runs in one all-in-one host (embedded mode)");
            return new InfrastructurePlan(true, InfrastructureSource.Embedded,
                blobsConfigured ? InfrastructureSource.Configuration : InfrastructureSource.Embedded, reasons);
        }
        return new InfrastructurePlan(false, messaging.Value, blobs.Value, reasons);
    }

    /// <summary>How to get the distributed mode on Debian/Ubuntu.</summary>
    public const string InstallHint =
        "For the distributed mode on Debian/Ubuntu: sudo apt-get install -y rabbitmq-server && npm ci (in the repository; see README)";

    private static InfrastructureSource? Pick(string name, bool configured, string? containerRuntime, bool localInstalled, string localDescription,
        List<string> reasons)
    {
        if (configured)
        {
            reasons.Add($"{name}: ConnectionStrings:{name} is set");
            return InfrastructureSource.Configuration;
        }
        if (containerRuntime is not null)
        {
            reasons.Add($"{name}: container runtime {containerRuntime} answers (container mode is written but untested here: no runtime on our machines)");
            return InfrastructureSource.Container;
        }
        if (localInstalled)
        {
            reasons.Add($"{name}: no connection string, no container runtime; {localDescription} is installed");
            return InfrastructureSource.LocalBinary;
        }
        reasons.Add($"{name}: no connection string, no container runtime (docker/podman), and {localDescription} is not installed");
        return null;
    }
}
