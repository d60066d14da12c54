namespace CremaD.Infrastructure.Tests;

/// <summary>
/// Every template compiles and lints clean with the real Bicep CLI (0.49.2 from NuGet, offline: the Azure resource
/// types are embedded in the compiler and no external module is restored).
/// </summary>
public sealed class BicepCompilationTests
{
    /// <summary>The templates azd deploys: main.bicep (provision) and one per service (deploy).</summary>
    public static TheoryData<string> EntryTemplates =>
        new(new[] { "main" }.Concat(Deployments.Services.Select(row => (string)row[0])));

    [Theory]
    [MemberData(nameof(EntryTemplates))]
    public async Task Build_emits_an_arm_template_without_errors_or_warnings(string template)
    {
        var run = await BicepCli.BuildAsync(Deployments.TemplatePath(template));

        Assert.True(run.ExitCode == 0, $"bicep build {template}.bicep exited {run.ExitCode}:\n{run.StandardError}");
        // Compiler diagnostics (warnings included, for the modules too) go to stderr.
        Assert.True(run.StandardError.Trim().Length == 0, $"bicep build {template}.bicep reported:\n{run.StandardError}");
        var json = await BicepCli.CompileAsync(Deployments.TemplatePath(template));
        Assert.StartsWith("https://schema.management.azure.com/schemas/", (string?)json["$schema"]);
        Assert.NotEmpty(new ArmTemplate(json, new Dictionary<string, System.Text.Json.Nodes.JsonNode?>()).ResourceDeclarations);
    }

    [Theory]
    [MemberData(nameof(EntryTemplates))]
    public async Task Lint_reports_nothing(string template)
    {
        var run = await BicepCli.RunAsync(["lint", Deployments.TemplatePath(template), "--no-restore"]);

        Assert.True(run.ExitCode == 0, $"bicep lint {template}.bicep exited {run.ExitCode}:\n{run.StandardError}{run.StandardOutput}");
        Assert.True((run.StandardOutput + run.StandardError).Trim().Length == 0,
            $"bicep lint {template}.bicep reported:\n{run.StandardError}{run.StandardOutput}");
    }

    [Fact]
    public void Every_module_is_used_by_main_so_its_build_and_lint_cover_it()
    {
        var main = File.ReadAllText(Deployments.TemplatePath("main"));
        var modules = Directory.GetFiles(Path.Combine(Repository.Infra, "modules"), "*.bicep");

        Assert.NotEmpty(modules);
        Assert.All(modules, module => Assert.Contains($"'modules/{Path.GetFileName(module)}'", main));
    }

    [Fact]
    public void Infra_holds_main_and_one_template_with_a_parameters_file_per_azd_service_and_nothing_else()
    {
        var expected = new[] { "main" }.Concat(AzureYamlProject.Load().Services.Keys).Order().ToList();

        var templates = Directory.GetFiles(Repository.Infra, "*.bicep").Select(f => Path.GetFileNameWithoutExtension(f)).Order().ToList();
        var parameterFiles = Directory.GetFiles(Repository.Infra, "*.parameters.json")
            .Select(f => Path.GetFileName(f)[..^".parameters.json".Length]).Order().ToList();

        Assert.Equal(expected, templates);
        Assert.Equal(expected, parameterFiles);
    }
}
