using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CremaD.Infrastructure.Tests;

/// <summary>The parts of azure.yaml (the azd project file) the tests check.</summary>
public sealed class AzureYamlProject
{
    /// <summary>Application name.</summary>
    public string Name { get; set; } = "";

    /// <summary>The infra section: provider, path, module.</summary>
    public InfraSection Infra { get; set; } = new();

    /// <summary>Services by name.</summary>
    public Dictionary<string, ServiceSection> Services { get; set; } = [];

    /// <summary>azure.yaml's infra section.</summary>
    public sealed class InfraSection
    {
        /// <summary>bicep or terraform.</summary>
        public string? Provider { get; set; }

        /// <summary>Folder of the templates, relative to azure.yaml.</summary>
        public string? Path { get; set; }

        /// <summary>Entry template name, without extension.</summary>
        public string? Module { get; set; }
    }

    /// <summary>One service of azure.yaml.</summary>
    public sealed class ServiceSection
    {
        /// <summary>Source folder, relative to azure.yaml.</summary>
        public string? Project { get; set; }

        /// <summary>Implementation language.</summary>
        public string? Language { get; set; }

        /// <summary>Azure host kind.</summary>
        public string? Host { get; set; }

        /// <summary>Container Apps API version azd uses when it updates the app directly.</summary>
        public string? ApiVersion { get; set; }
    }

    /// <summary>Reads the repository's azure.yaml.</summary>
    public static AzureYamlProject Load()
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .IgnoreUnmatchedProperties()
            .Build();
        return deserializer.Deserialize<AzureYamlProject>(File.ReadAllText(Repository.AzureYaml));
    }
}
