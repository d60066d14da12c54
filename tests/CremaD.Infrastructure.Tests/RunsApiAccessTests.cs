using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// Who can reach the runs API in Azure: its API key (a secret from the azd environment, handed to the container only
/// as a secret reference), its ingress (internal unless provisioned with CREMAD_RUNS_API_EXTERNAL) and its host
/// filter. Replayed like the other templates (see <see cref="Deployments"/>).
/// </summary>
public sealed class RunsApiAccessTests
{
    private const string KeySecretName = "runs-api-key";

    private static string Text(JsonNode? node) => ArmExpressions.Render(node);

    private static async Task<(ArmTemplate Main, ArmTemplate RunsApi)> ReplayAsync(Deployments.Settings settings)
    {
        var main = await Deployments.MainAsync(settings);
        var runsApi = await Deployments.ServiceAsync("runsapi", await Deployments.ProvisionedEnvironmentAsync(settings));
        return (main, runsApi);
    }

    private static JsonObject App(ArmTemplate template) => template.Resource("Microsoft.App/containerApps");

    private static JsonArray EnvironmentVariables(JsonObject app) =>
        Assert.Single(app["properties"]!["template"]!["containers"]!.AsArray())!["env"]!.AsArray();

    private static JsonNode Ingress(JsonObject app) => app["properties"]!["configuration"]!["ingress"]!;

    // Every place a string occurs in an evaluated tree, as paths (property names and indexes).
    private static List<string> PathsContaining(JsonNode? node, string text, string path = "$")
    {
        switch (node)
        {
            case JsonObject obj:
                return obj.SelectMany(p => PathsContaining(p.Value, text, $"{path}.{p.Key}")).ToList();
            case JsonArray array:
                return array.SelectMany((item, i) => PathsContaining(item, text, $"{path}[{i}]")).ToList();
            case null:
                return [];
            default:
                return Text(node).Contains(text, StringComparison.Ordinal) ? [path] : [];
        }
    }

    [Fact]
    public async Task The_api_key_is_a_secure_parameter_of_at_least_32_characters_from_the_azd_environment()
    {
        var (main, runsApi) = await ReplayAsync(new());

        var declaration = runsApi.ParameterDeclarations["runsApiKey"]!;
        Assert.Equal("securestring", (string?)declaration["type"]);
        Assert.Equal(32, (int)declaration["minLength"]!);
        Assert.Null(declaration["defaultValue"]);
        var file = JsonNode.Parse(File.ReadAllText(Deployments.ParametersPath("runsapi")))!["parameters"]!;
        Assert.Equal("${CREMAD_RUNS_API_KEY}", (string?)file["runsApiKey"]!["value"]);

        // Not a provision setting: the key goes from the azd environment to the runs API template only.
        Assert.DoesNotContain(main.ParameterDeclarations, p => p.Key.Contains("key", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(main.OutputNames, name => name.Contains("KEY", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task The_api_key_reaches_the_container_only_through_a_secret_referenced_as_RunsApi__ApiKey()
    {
        var app = App((await ReplayAsync(new())).RunsApi);

        var secret = Assert.Single(app["properties"]!["configuration"]!["secrets"]!.AsArray(), s => Text(s!["name"]) == KeySecretName)!;
        Assert.Equal(Deployments.RunsApiKey, Text(secret["value"]));
        var variable = Assert.Single(EnvironmentVariables(app), e => Text(e!["name"]) == "RunsApi__ApiKey")!;
        Assert.Equal(KeySecretName, Text(variable["secretRef"]));
        Assert.Null(variable["value"]);

        // The secret's value is the one place the key appears in the whole app: no plain environment value, tag, ...
        var secretIndex = app["properties"]!["configuration"]!["secrets"]!.AsArray().IndexOf(secret);
        Assert.Equal([$"$.properties.configuration.secrets[{secretIndex}].value"], PathsContaining(app, Deployments.RunsApiKey));
    }

    [Theory]
    [InlineData("featureservice")]
    [InlineData("trainerservice")]
    [InlineData("evaluationservice")]
    public async Task The_other_services_do_not_get_the_api_key(string service)
    {
        var environment = await Deployments.ProvisionedEnvironmentAsync(new());
        var template = await Deployments.ServiceAsync(service, environment);

        Assert.DoesNotContain("runsApiKey", template.ParameterDeclarations.Select(p => p.Key));
        var app = App(template);
        Assert.Empty(PathsContaining(app, Deployments.RunsApiKey));
        Assert.DoesNotContain(EnvironmentVariables(app), e => Text(e!["name"]) == "RunsApi__ApiKey");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task No_output_contains_the_api_key(bool external)
    {
        var (main, runsApi) = await ReplayAsync(new(RunsApiExternal: external));

        foreach (var template in new[] { main, runsApi })
        {
            Assert.All(template.OutputNames, name => Assert.DoesNotContain(Deployments.RunsApiKey, Text(template.Output(name))));
            // Not even symbolically: no output expression reads the parameter.
            Assert.All(template.Json["outputs"]!.AsObject(),
                output => Assert.DoesNotContain("runsApiKey", output.Value!.ToJsonString(), StringComparison.OrdinalIgnoreCase));
        }
        Assert.DoesNotContain(Deployments.RunsApiKey, string.Join('\n', (await Deployments.ProvisionedEnvironmentAsync(new())).Where(
            v => v.Key != "CREMAD_RUNS_API_KEY").Select(v => v.Value)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0123456789abcdef0123456789abcde")] // 31 characters
    public async Task Deploying_the_runs_api_without_a_key_of_at_least_32_characters_is_refused(string? key)
    {
        var (_, runsApi) = await ReplayAsync(new(RunsApiKey: key));

        var violation = Assert.Single(runsApi.ParameterViolations());
        Assert.StartsWith("runsApiKey: length", violation);
        Assert.Contains("minLength 32", violation);
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")] // 32 characters
    [InlineData(Deployments.RunsApiKey)] // openssl rand -hex 32
    public async Task A_key_of_32_characters_or_more_is_accepted(string key)
    {
        var (_, runsApi) = await ReplayAsync(new(RunsApiKey: key));

        Assert.Empty(runsApi.ParameterViolations());
        var secret = Assert.Single(App(runsApi)["properties"]!["configuration"]!["secrets"]!.AsArray(), s => Text(s!["name"]) == KeySecretName)!;
        Assert.Equal(key, Text(secret["value"]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Main_and_every_service_template_get_parameter_values_that_meet_their_constraints(bool? external)
    {
        var settings = new Deployments.Settings(RunsApiExternal: external);
        Assert.Empty((await Deployments.MainAsync(settings)).ParameterViolations());

        var environment = await Deployments.ProvisionedEnvironmentAsync(settings);
        foreach (var service in Deployments.Services.Select(row => (string)row[0]))
            Assert.Empty((await Deployments.ServiceAsync(service, environment)).ParameterViolations());
    }

    [Fact]
    public async Task The_ingress_is_internal_by_default_and_the_urls_are_the_internal_fqdn()
    {
        var parameters = JsonNode.Parse(File.ReadAllText(Deployments.ParametersPath("main")))!["parameters"]!;
        Assert.Equal("${CREMAD_RUNS_API_EXTERNAL=false}", (string?)parameters["runsApiExternal"]!["value"]);

        var (main, runsApi) = await ReplayAsync(new());

        var ingress = Ingress(App(runsApi));
        Assert.False((bool)ingress["external"]!);
        Assert.False((bool)ingress["allowInsecure"]!);
        Assert.Equal("false", Text(main.Output("RUNS_API_EXTERNAL")));
        var url = Text(main.Output("RUNS_API_URL"));
        Assert.StartsWith("https://runs-api.internal.⟦", url);
        Assert.Contains("defaultDomain", url);
        Assert.EndsWith("⟧/", url);
        // The service template's URL is the app's ingress FQDN, which Azure gives the .internal. part when internal.
        var serviceUrl = Text(runsApi.Output("SERVICE_RUNSAPI_URI"));
        Assert.StartsWith("https://⟦", serviceUrl);
        Assert.Contains("reference(resourceId('Microsoft.App/containerApps'", serviceUrl);
        Assert.EndsWith(".configuration.ingress.fqdn⟧/", serviceUrl);
    }

    [Fact]
    public async Task CREMAD_RUNS_API_EXTERNAL_true_opens_the_ingress_https_only_and_the_url_follows()
    {
        var (main, runsApi) = await ReplayAsync(new(RunsApiExternal: true));

        var ingress = Ingress(App(runsApi));
        Assert.True((bool)ingress["external"]!);
        Assert.False((bool)ingress["allowInsecure"]!);
        Assert.Equal("true", Text(main.Output("RUNS_API_EXTERNAL")));
        var url = Text(main.Output("RUNS_API_URL"));
        Assert.StartsWith("https://runs-api.⟦", url);
        Assert.DoesNotContain(".internal.", url);
        // Opening the ingress does not drop the key.
        Assert.Contains(EnvironmentVariables(App(runsApi)), e => Text(e!["name"]) == "RunsApi__ApiKey" && Text(e["secretRef"]) == KeySecretName);
    }

    [Fact]
    public async Task The_ingress_switch_takes_only_true_or_false()
    {
        var environment = await Deployments.ProvisionedEnvironmentAsync(new());
        environment["RUNS_API_EXTERNAL"] = "yes";

        var runsApi = await Deployments.ServiceAsync("runsapi", environment);

        Assert.Equal(["runsApiExternal: the value is not one of the allowed values"], runsApi.ParameterViolations());
    }

    [Fact]
    public async Task Host_filtering_allows_the_app_name_the_environment_domain_and_localhost()
    {
        var app = App((await ReplayAsync(new())).RunsApi);

        var variable = Assert.Single(EnvironmentVariables(app), e => Text(e!["name"]) == "AllowedHosts")!;
        var hosts = Text(variable["value"]).Split(';');
        Assert.Equal(3, hosts.Length);
        Assert.Equal("runs-api", hosts[0]);
        Assert.Equal(Text(app["name"]), hosts[0]);
        // *.<default domain> of the environment the app is in: runs-api.<domain> and runs-api.internal.<domain>.
        Assert.StartsWith("*.⟦", hosts[1]);
        Assert.Contains("reference(resourceId('Microsoft.App/managedEnvironments', parameters('containerAppsEnvironmentName'))", hosts[1]);
        Assert.EndsWith(".defaultDomain⟧", hosts[1]);
        Assert.Equal("localhost", hosts[2]);
    }
}
