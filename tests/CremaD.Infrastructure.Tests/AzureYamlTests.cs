using System.Text.RegularExpressions;

namespace CremaD.Infrastructure.Tests;

/// <summary>azure.yaml describes the repository as azd needs it (schema: azure-dev schemas/v1.0/azure.yaml.json).</summary>
public sealed partial class AzureYamlTests
{
    // The schema's pattern for the application name.
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex ApplicationName();

    /// <summary>
    /// Hosts that run only under the local AppHost: the embedded mode's all-in-one host and the demo run (the AppHost's
    /// manifest leaves them out too; tests/CremaD.AppHost.Tests checks the manifest against azure.yaml).
    /// </summary>
    private static readonly string[] LocalOnlyHosts = ["CremaD.AllServices", "CremaD.DemoRun"];

    [Fact]
    public void Every_deployed_project_under_services_is_a_dotnet_container_app_service()
    {
        var project = AzureYamlProject.Load();
        var serviceProjects = Directory.GetDirectories(Repository.Services)
            .Where(d => Directory.GetFiles(d, "*.csproj").Length > 0 && !LocalOnlyHosts.Contains(Path.GetFileName(d)))
            .Select(Path.GetFullPath)
            .Order()
            .ToList();

        Assert.NotEmpty(serviceProjects);
        var listed = project.Services.Values.Select(s => Path.GetFullPath(Path.Combine(Repository.Root, s.Project!))).Order().ToList();
        Assert.Equal(serviceProjects, listed);
        Assert.All(project.Services, s =>
        {
            Assert.Equal("dotnet", s.Value.Language);
            Assert.Equal("containerapp", s.Value.Host);
        });
    }

    [Fact]
    public void The_project_provisions_infra_main_with_bicep()
    {
        var project = AzureYamlProject.Load();

        Assert.Matches(ApplicationName(), project.Name);
        Assert.Equal("bicep", project.Infra.Provider);
        Assert.Equal("infra", project.Infra.Path);
        Assert.Equal("main", project.Infra.Module);
        Assert.True(File.Exists(Deployments.TemplatePath(project.Infra.Module!)));
    }

    [Fact]
    public void Service_names_are_those_the_infra_tests_replay()
    {
        // Lowercase letters and digits only: azd derives SERVICE_<NAME>_IMAGE_NAME from the name.
        var names = AzureYamlProject.Load().Services.Keys.Order().ToList();

        Assert.All(names, name => Assert.Matches("^[a-z0-9]+$", name));
        Assert.Equal(Deployments.Services.Select(row => (string)row[0]).Order(), names);
    }

    [Fact]
    public async Task Each_service_pins_the_container_apps_api_version_its_template_uses()
    {
        foreach (var (name, service) in AzureYamlProject.Load().Services)
        {
            var template = await BicepCli.CompileAsync(Deployments.TemplatePath(name));
            var app = new ArmTemplate(template, new Dictionary<string, System.Text.Json.Nodes.JsonNode?>())
                .ResourceDeclarations.Single(r => (string?)r["type"] == "Microsoft.App/containerApps" && r["existing"] is null);
            Assert.Equal((string?)app["apiVersion"], service.ApiVersion);
        }
    }
}
