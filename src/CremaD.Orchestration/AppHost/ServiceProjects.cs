namespace CremaD.Orchestration.AppHost;

/// <summary>One service project the AppHost runs as a process.</summary>
/// <param name="ResourceName">Its resource name (OTEL_SERVICE_NAME, services__&lt;name&gt;__http__0).</param>
/// <param name="ProjectName">The project folder and assembly name under services/.</param>
public sealed record ServiceProject(string ResourceName, string ProjectName)
{
    public const string TargetFramework = "net10.0";

    /// <summary>services/&lt;ProjectName&gt;/&lt;ProjectName&gt;.csproj, relative to the repository.</summary>
    public string ProjectPath => $"services/{ProjectName}/{ProjectName}.csproj";

    /// <summary>The built assembly: services/X/bin/&lt;configuration&gt;/net10.0/X.dll.</summary>
    public string AssemblyPath(string repositoryRoot, string configuration) =>
        Path.Combine(repositoryRoot, "services", ProjectName, "bin", configuration, TargetFramework, ProjectName + ".dll");
}

/// <summary>The four service hosts, in the order they are started (all depend on messaging and blobs only).</summary>
public static class ServiceProjects
{
    public static ServiceProject RunsApi { get; } = new("runs-api", "CremaD.RunsApi");
    public static ServiceProject FeatureService { get; } = new("feature-service", "CremaD.FeatureService");
    public static ServiceProject TrainerService { get; } = new("trainer-service", "CremaD.TrainerService");
    public static ServiceProject EvaluationService { get; } = new("evaluation-service", "CremaD.EvaluationService");

    public static IReadOnlyList<ServiceProject> All { get; } = [RunsApi, FeatureService, TrainerService, EvaluationService];
}
