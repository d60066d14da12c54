using System.Text.Json;
using System.Text.RegularExpressions;
using CremaD.AppHost.Infrastructure;

namespace CremaD.AppHost.Tests;

/// <summary>
/// <c>--publisher manifest</c> writes the Aspire manifest azd reads, and infra/ + azure.yaml (hand-kept Bicep, since
/// Aspire.Hosting.Azure.* is not served here) agree with it: the same services, the same project paths, the same
/// connection strings, RabbitMQ as a container, blobs as a connection-string parameter, and no demo run.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class ManifestTests
{
    private static readonly string[] Projects = ["runs-api", "feature-service", "trainer-service", "evaluation-service"];

    [Fact]
    public async Task The_manifest_lists_the_deployed_services_and_infra_and_azure_yaml_agree_with_it()
    {
        var manifestPath = Path.Combine(Path.GetTempPath(), $"cremad-manifest-{Guid.NewGuid():N}.json");
        await using (var host = AppHostProcess.Start("--publisher", "manifest", "--output-path", manifestPath))
        {
            Assert.Equal(0, await host.Exited.WaitAsync(TimeSpan.FromMinutes(2)));
        }
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(manifestPath));
        File.Delete(manifestPath);
        var resources = manifest.RootElement.GetProperty("resources");

        // Besides the generated parameters of the RabbitMQ container (messaging-password, …).
        Assert.Equal(["messaging", "blobs", RunsApiKeyResources.ParameterName, .. Projects],
            resources.EnumerateObject().Where(r => !r.Name.StartsWith("messaging-", StringComparison.Ordinal)).Select(r => r.Name));
        // The runs API's key: a secret parameter (generated unless given), passed to the runs API alone.
        var key = resources.GetProperty(RunsApiKeyResources.ParameterName);
        Assert.Equal("parameter.v0", key.GetProperty("type").GetString());
        Assert.True(key.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        Assert.Equal($"{{{RunsApiKeyResources.ParameterName}.value}}",
            resources.GetProperty("runs-api").GetProperty("env").GetProperty("RunsApi__ApiKey").GetString());
        foreach (var other in Projects.Where(p => p != "runs-api"))
        {
            Assert.False(resources.GetProperty(other).GetProperty("env").TryGetProperty("RunsApi__ApiKey", out _), $"{other} gets the key");
        }
        Assert.Equal("container.v0", resources.GetProperty("messaging").GetProperty("type").GetString());
        Assert.StartsWith("docker.io/library/rabbitmq:", resources.GetProperty("messaging").GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Equal("parameter.v0", resources.GetProperty("blobs").GetProperty("type").GetString());

        var root = InfrastructureResourceExtensions.RepositoryRoot;
        var azureYaml = await File.ReadAllTextAsync(Path.Combine(root, "azure.yaml"));
        var yamlProjects = Regex.Matches(azureYaml, @"project:\s*\./(\S+)").Select(m => m.Groups[1].Value.TrimEnd('/')).ToList();
        foreach (var name in Projects)
        {
            var resource = resources.GetProperty(name);
            Assert.Equal("project.v0", resource.GetProperty("type").GetString());
            var env = resource.GetProperty("env").EnumerateObject().Select(e => e.Name).ToHashSet();
            Assert.Contains("ConnectionStrings__messaging", env);
            Assert.Contains("ConnectionStrings__blobs", env);
            Assert.DoesNotContain("CremaD__WorkDirectory", env);
            Assert.Equal("Production", resource.GetProperty("env").GetProperty("ASPNETCORE_ENVIRONMENT").GetString());

            // The project the manifest names is the one azure.yaml builds, and infra/<name>.bicep deploys it under the same name.
            var projectFolder = Path.GetDirectoryName(Path.GetFullPath(resource.GetProperty("path").GetString()!, Path.GetTempPath()))!;
            Assert.Contains(Path.GetRelativePath(root, projectFolder), yamlProjects);
            var bicep = await File.ReadAllTextAsync(Path.Combine(root, "infra", name.Replace("-", "", StringComparison.Ordinal) + ".bicep"));
            Assert.True(bicep.Contains($"name: '{name}'", StringComparison.Ordinal) || bicep.Contains($"var appName = '{name}'", StringComparison.Ordinal),
                $"infra/{name.Replace("-", "", StringComparison.Ordinal)}.bicep does not name its app '{name}'");
            foreach (var connection in new[] { "ConnectionStrings__messaging", "ConnectionStrings__blobs" })
            {
                Assert.Contains($"name: '{connection}'", bicep, StringComparison.Ordinal);
            }
            // No service is open to the internet by default: the runs API's ingress opens only with its parameter (infra/).
            var external = resource.GetProperty("bindings").GetProperty("http").TryGetProperty("external", out var e) && e.GetBoolean();
            Assert.False(external, $"{name} is external in the manifest");
            Assert.DoesNotMatch(@"ingress:\s*\{\s*external:\s*true", bicep);
        }
        Assert.Equal(Projects.Length, yamlProjects.Count);
        Assert.True(File.Exists(Path.Combine(root, "infra", "modules", "rabbitmq.bicep")));
    }
}
