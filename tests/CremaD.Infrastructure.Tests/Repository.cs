using System.Reflection;

namespace CremaD.Infrastructure.Tests;

/// <summary>Paths of the repository the tests check, and of the Bicep compiler NuGet restored for them.</summary>
public static class Repository
{
    private static string Metadata(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata '{key}' is missing (see the test project file)");

    /// <summary>The repository root (the folder of CremaD.sln).</summary>
    public static string Root { get; } = Path.GetFullPath(Metadata("RepositoryRoot"));

    /// <summary>The infra/ folder azd provisions from.</summary>
    public static string Infra { get; } = Path.Combine(Root, "infra");

    /// <summary>The services/ folder holding one project per deployable service.</summary>
    public static string Services { get; } = Path.Combine(Root, "services");

    /// <summary>The azd project file.</summary>
    public static string AzureYaml { get; } = Path.Combine(Root, "azure.yaml");

    /// <summary>
    /// The bicep executable of the Azure.Bicep.CommandLine.linux-x64 package (a self-contained native build; no .NET
    /// runtime or network needed). BICEP_PATH overrides it.
    /// </summary>
    public static string BicepExecutable
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("BICEP_PATH");
            if (!string.IsNullOrEmpty(overridden)) return overridden;
            var path = Path.Combine(Metadata("BicepPackageRoot"), "tools", "bicep");
            if (!File.Exists(path))
                throw new FileNotFoundException($"{path}: the Bicep CLI is missing; restore the test project (package Azure.Bicep.CommandLine.linux-x64)", path);
            return path;
        }
    }
}
