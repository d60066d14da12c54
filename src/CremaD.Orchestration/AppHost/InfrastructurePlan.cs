using CremaD.LocalInfrastructure;
using CremaD.Orchestration.Resources;

namespace CremaD.Orchestration.AppHost;

/// <summary>Where one piece of infrastructure comes from.</summary>
public enum InfrastructureSource
{
    /// <summary>A connection string given in configuration (<c>ConnectionStrings__messaging</c> / <c>ConnectionStrings__blobs</c>).</summary>
    Configuration,

    /// <summary>A container started with Docker or Podman.</summary>
    Container,

    /// <summary>A private local server: Debian's rabbitmq-server, the repository's Azurite.</summary>
    LocalBinary,

    /// <summary>Inside the AppHost: in-memory transport, local-folder blob store.</summary>
    Embedded,
}

/// <summary>The AppHost's decision, with the reasons it prints.</summary>
/// <param name="ContainerRuntime">Path of docker/podman when a source is <see cref="InfrastructureSource.Container"/>.</param>
public sealed record InfrastructurePlan(
    bool Embedded,
    InfrastructureSource Messaging,
    InfrastructureSource Blobs,
    string? ContainerRuntime,
    IReadOnlyList<string> Reasons)
{
    /// <summary>One line for the console: the mode and where each piece comes from.</summary>
    public string Summary => Embedded
        ? $"embedded mode: every service in this process, in-memory transport, blobs from {Describe(Blobs)}"
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
/// <param name="ContainerRuntime">docker or podman on PATH that answers <c>info</c>, else null.</param>
public sealed record MachineInfrastructure(string? ContainerRuntime, bool RabbitMqServerInstalled, bool AzuriteInstalled,
    string RabbitMqServerPath, string AzuritePath)
{
    /// <summary>Looks at this machine: PATH for docker/podman (and whether its daemon answers), rabbitmq-server, the repo's Azurite.</summary>
    public static async Task<MachineInfrastructure> DetectAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        string? runtime = null;
        foreach (var candidate in new[] { "docker", "podman" })
        {
            var path = FindOnPath(candidate);
            if (path is null) continue;
            var (exitCode, _) = await ContainerResource.RunAsync(path, ["info", "--format", "{{.ServerVersion}}"], TimeSpan.FromSeconds(15),
                cancellationToken).ConfigureAwait(false);
            if (exitCode == 0)
            {
                runtime = path;
                break;
            }
        }
        var rabbit = new RabbitMqOptions().ServerPath;
        var azurite = Path.Combine(repositoryRoot, "node_modules", ".bin", "azurite");
        return new MachineInfrastructure(runtime, File.Exists(rabbit), File.Exists(azurite) && FindOnPath("node") is not null, rabbit, azurite);
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, program))
        .FirstOrDefault(File.Exists);
}

/// <summary>
/// Decides where messaging and blobs come from, in the order: connection strings in configuration, a container
/// runtime, local binaries, otherwise the embedded mode. Without a broker there is no way for separate processes to
/// talk, so no messaging source means embedded mode (blobs may still come from configuration).
/// </summary>
public static class InfrastructureSelector
{
    public static InfrastructurePlan Choose(AppHostMode mode, IReadOnlyDictionary<string, string> connectionStrings, MachineInfrastructure machine)
    {
        var reasons = new List<string>();
        var blobsConfigured = connectionStrings.ContainsKey(InfrastructureNames.Blobs);
        var messagingConfigured = connectionStrings.ContainsKey(InfrastructureNames.Messaging);
        if (mode == AppHostMode.Embedded)
        {
            reasons.Add("--mode embedded was given");
            var blobs = blobsConfigured ? InfrastructureSource.Configuration : InfrastructureSource.Embedded;
            if (blobsConfigured) reasons.Add("blobs: ConnectionStrings__blobs is set");
            return new InfrastructurePlan(true, InfrastructureSource.Embedded, blobs, null, reasons);
        }

        var messagingSource = Pick(InfrastructureNames.Messaging, messagingConfigured, machine.ContainerRuntime, machine.RabbitMqServerInstalled,
            $"rabbitmq-server ({machine.RabbitMqServerPath})", reasons);
        var blobsSource = Pick(InfrastructureNames.Blobs, blobsConfigured, machine.ContainerRuntime, machine.AzuriteInstalled,
            $"Azurite ({machine.AzuritePath}, with node on PATH)", reasons);
        if (messagingSource is null || blobsSource is null)
        {
            if (mode == AppHostMode.Distributed)
            {
                throw new InvalidOperationException(
                    "--mode distributed needs a RabbitMQ broker and blob storage, and neither configuration, a container runtime nor local binaries " +
                    "provide " + (messagingSource is null ? "the broker" : "blob storage") + ". " + string.Join("; ", reasons) +
                    ". Install them with: sudo apt-get install -y rabbitmq-server && npm ci (see README).");
            }
            reasons.Add("no broker and blob storage for separate processes, so every service runs inside the AppHost (embedded mode)");
            var blobs = blobsConfigured ? InfrastructureSource.Configuration : InfrastructureSource.Embedded;
            return new InfrastructurePlan(true, InfrastructureSource.Embedded, blobs, null, reasons);
        }
        var runtime = messagingSource == InfrastructureSource.Container || blobsSource == InfrastructureSource.Container ? machine.ContainerRuntime : null;
        return new InfrastructurePlan(false, messagingSource.Value, blobsSource.Value, runtime, reasons);
    }

    private static InfrastructureSource? Pick(string name, bool configured, string? containerRuntime, bool localInstalled, string localDescription,
        List<string> reasons)
    {
        if (configured)
        {
            reasons.Add($"{name}: ConnectionStrings__{name} is set");
            return InfrastructureSource.Configuration;
        }
        if (containerRuntime is not null)
        {
            reasons.Add($"{name}: container runtime {containerRuntime} answers");
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
