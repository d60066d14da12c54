using CremaD.Contracts;

namespace CremaD.Orchestration.AppHost;

/// <summary>Which infrastructure the AppHost uses: decided from what the machine has, or forced.</summary>
public enum AppHostMode
{
    /// <summary>Configuration, then a container runtime, then local binaries, else embedded (the order).</summary>
    Auto,

    /// <summary>Separate service processes over RabbitMQ and blob storage; fails if neither configuration, containers nor local binaries provide them.</summary>
    Distributed,

    /// <summary>Every service inside the AppHost process, in-memory transport, local-folder blob store.</summary>
    Embedded,
}

/// <summary>What <c>dotnet run --project CremaD.AppHost -- …</c> was asked to do.</summary>
/// <param name="RepositoryRoot">The checkout (for services/*/bin, node_modules/.bin/azurite).</param>
/// <param name="BuildConfiguration">Debug or Release: which bin folder the service assemblies are in.</param>
/// <param name="DemoDirectory">The built-in demo dataset.</param>
/// <param name="DataRoot">A local dataset to upload and run instead of the demo.</param>
/// <param name="SubmitRun">False with --no-demo: bring the system up and wait.</param>
/// <param name="RunConfig">The recipe of the submitted run.</param>
/// <param name="ArtifactsDirectory">Where finished runs' artefacts are downloaded (<c>./artifacts/&lt;run-id&gt;/</c>).</param>
/// <param name="ExitWhenDone">Stop everything and exit once the submitted run has finished (scripts, tests, measurements).</param>
/// <param name="DashboardPort">18888 as Aspire; 0 picks a free port.</param>
/// <param name="OtlpHttpPort">18890 as Aspire's OTLP/HTTP endpoint; 0 picks a free port.</param>
/// <param name="ConnectionStrings">ConnectionStrings:messaging / ConnectionStrings:blobs from configuration, when given.</param>
public sealed record AppHostOptions(
    string RepositoryRoot,
    string BuildConfiguration,
    string DemoDirectory,
    AppHostMode Mode = AppHostMode.Auto,
    string? DataRoot = null,
    bool SubmitRun = true,
    RunConfig? RunConfig = null,
    string ArtifactsDirectory = "artifacts",
    bool ExitWhenDone = false,
    int DashboardPort = 18888,
    int OtlpHttpPort = 18890,
    IReadOnlyDictionary<string, string>? ConnectionStrings = null,
    string BlobContainer = "cremad");
