using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// The four service apps as `azd deploy` creates them: each service template bound to its parameters file under the
/// azd environment main.bicep's outputs produce (see <see cref="Deployments"/>).
/// </summary>
public sealed class ServiceTemplateTests
{
    private const string Otlp = "http://otel-collector.internal:4317";

    private static string Text(JsonNode? node) => ArmExpressions.Render(node);

    private static async Task<(JsonObject App, Dictionary<string, string> Environment)> DeployAsync(
        string service, Deployments.Settings? settings = null)
    {
        var environment = await Deployments.ProvisionedEnvironmentAsync(settings ?? new(OtlpEndpoint: Otlp));
        var template = await Deployments.ServiceAsync(service, environment);
        return (template.Resource("Microsoft.App/containerApps"), environment);
    }

    private static JsonObject Container(JsonObject app) =>
        Assert.Single(app["properties"]!["template"]!["containers"]!.AsArray())!.AsObject();

    private static JsonObject EnvironmentVariable(JsonObject app, string name) =>
        Assert.Single(Container(app)["env"]!.AsArray(), e => Text(e!["name"]) == name)!.AsObject();

    private static JsonObject Secret(JsonObject app, string name) =>
        Assert.Single(app["properties"]!["configuration"]!["secrets"]!.AsArray(), s => Text(s!["name"]) == name)!.AsObject();

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task The_app_runs_the_image_azd_pushed_and_is_tagged_for_azd(string service, string appName)
    {
        var (app, environment) = await DeployAsync(service);

        Assert.Equal(appName, Text(app["name"]));
        Assert.Equal(environment[$"SERVICE_{service.ToUpperInvariant()}_IMAGE_NAME"], Text(Container(app)["image"]));
        Assert.Equal(service, Text(app["tags"]!["azd-service-name"]));
        Assert.Equal(Deployments.EnvironmentName, Text(app["tags"]!["azd-env-name"]));
        Assert.Contains("managedEnvironments", Text(app["properties"]!["environmentId"]));
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task The_app_runs_as_the_user_assigned_identity_and_pulls_images_with_it(string service, string appName)
    {
        var (app, environment) = await DeployAsync(service);

        Assert.Equal("UserAssigned", Text(app["identity"]!["type"]));
        var identityId = Assert.Single(app["identity"]!["userAssignedIdentities"]!.AsObject()).Key;
        Assert.Contains($"Microsoft.ManagedIdentity/userAssignedIdentities/{environment["AZURE_MANAGED_IDENTITY_NAME"]}", identityId);
        var registry = Assert.Single(app["properties"]!["configuration"]!["registries"]!.AsArray())!;
        Assert.Equal(environment["AZURE_CONTAINER_REGISTRY_ENDPOINT"], Text(registry["server"]));
        Assert.Equal(identityId, Text(registry["identity"]));
        Assert.Null(registry["passwordSecretRef"]);
        Assert.NotEmpty(appName);
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task The_app_gets_the_aspire_style_configuration(string service, string appName)
    {
        var (app, environment) = await DeployAsync(service);

        var clientId = Text(EnvironmentVariable(app, "AZURE_CLIENT_ID")["value"]);
        Assert.Contains("Microsoft.ManagedIdentity/userAssignedIdentities", clientId);
        Assert.EndsWith(".clientId⟧", clientId);

        // The blob endpoint URI (managed identity), which main.bicep takes from the storage account.
        var blobs = Text(EnvironmentVariable(app, "ConnectionStrings__blobs")["value"]);
        Assert.Equal(environment["AZURE_STORAGE_BLOB_ENDPOINT"], blobs);
        Assert.Contains("Microsoft.Storage/storageAccounts", blobs);
        Assert.Contains("primaryEndpoints.blob", blobs);

        var messaging = EnvironmentVariable(app, "ConnectionStrings__messaging");
        Assert.Null(messaging["value"]);
        var amqp = Text(Secret(app, Text(messaging["secretRef"]))["value"]);
        Assert.StartsWith("amqp://cremad:", amqp);
        Assert.EndsWith("@rabbitmq:5672", amqp);
        // The password comes from the broker app's own secret.
        Assert.Contains("listSecrets", amqp);
        Assert.Contains("rabbitmq-password", amqp);

        Assert.Equal("cremad", Text(EnvironmentVariable(app, "CremaD__BlobContainer")["value"]));
        Assert.Equal(Otlp, Text(EnvironmentVariable(app, "OTEL_EXPORTER_OTLP_ENDPOINT")["value"]));
        Assert.Equal(appName, Text(EnvironmentVariable(app, "OTEL_SERVICE_NAME")["value"]));
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task Without_an_otlp_endpoint_the_app_gets_an_empty_one_which_service_defaults_ignore(string service, string appName)
    {
        var (app, _) = await DeployAsync(service, new Deployments.Settings());

        Assert.Equal("", Text(EnvironmentVariable(app, "OTEL_EXPORTER_OTLP_ENDPOINT")["value"]));
        Assert.NotEmpty(appName);
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task The_app_runs_in_the_production_environment(string service, string appName)
    {
        var (app, _) = await DeployAsync(service);

        Assert.Equal("Production", Text(EnvironmentVariable(app, "ASPNETCORE_ENVIRONMENT")["value"]));
        Assert.Equal("Production", Text(EnvironmentVariable(app, "DOTNET_ENVIRONMENT")["value"]));
        Assert.NotEmpty(appName);
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task Probes_use_alive_for_liveness_and_health_for_readiness_on_the_port_the_app_listens_on(string service, string appName)
    {
        var (app, _) = await DeployAsync(service);

        var port = int.Parse(Text(EnvironmentVariable(app, "ASPNETCORE_HTTP_PORTS")["value"]));
        var probes = Container(app)["probes"]!.AsArray().ToDictionary(p => Text(p!["type"]), p => p!["httpGet"]!);
        Assert.Equal("/alive", Text(probes["Liveness"]["path"]));
        Assert.Equal("/health", Text(probes["Readiness"]["path"]));
        Assert.Equal("/alive", Text(probes["Startup"]["path"]));
        Assert.All(probes.Values, probe => Assert.Equal(port, (int)probe["port"]!));
        Assert.NotEmpty(appName);
    }

    [Fact]
    public async Task Only_the_runs_api_has_ingress_and_it_is_https_only_on_the_app_port()
    {
        var (runsApi, _) = await DeployAsync("runsapi");
        var ingress = runsApi["properties"]!["configuration"]!["ingress"]!;
        Assert.False((bool)ingress["allowInsecure"]!);
        Assert.Equal(8080, (int)ingress["targetPort"]!);

        foreach (var service in new[] { "featureservice", "trainerservice", "evaluationservice" })
        {
            var (app, _) = await DeployAsync(service);
            Assert.Null(app["properties"]!["configuration"]!["ingress"]);
        }
    }

    [Fact]
    public async Task The_runs_api_keeps_one_replica_for_its_coordinator_and_reports_its_url()
    {
        var environment = await Deployments.ProvisionedEnvironmentAsync(new());
        var template = await Deployments.ServiceAsync("runsapi", environment);

        var scale = template.Resource("Microsoft.App/containerApps")["properties"]!["template"]!["scale"]!;
        Assert.Equal(1, (int)scale["minReplicas"]!);
        Assert.Contains("SERVICE_RUNSAPI_URI", template.OutputNames);
        Assert.StartsWith("https://", Text(template.Output("SERVICE_RUNSAPI_URI")));
    }

    [Theory]
    [InlineData("featureservice", "ExtractFeatureShard", 0, 4)]
    [InlineData("evaluationservice", "EvaluateModel", 0, 1)]
    public async Task Queue_consumers_scale_with_a_keda_rabbitmq_rule_on_their_queue(
        string service, string queueConstant, int minReplicas, int maxReplicas)
    {
        var (app, _) = await DeployAsync(service);
        var queue = QueueName(queueConstant);

        var scale = app["properties"]!["template"]!["scale"]!;
        Assert.Equal(minReplicas, (int)scale["minReplicas"]!);
        Assert.Equal(maxReplicas, (int)scale["maxReplicas"]!);
        var rule = Assert.Single(scale["rules"]!.AsArray())!["custom"]!;
        Assert.Equal("rabbitmq", Text(rule["type"]));
        Assert.Equal(queue, Text(rule["metadata"]!["queueName"]));
        Assert.Equal("QueueLength", Text(rule["metadata"]!["mode"]));
        // The management API counts unacknowledged messages too, so a busy replica is not scaled in.
        Assert.Equal("http", Text(rule["metadata"]!["protocol"]));
        Assert.True(int.Parse(Text(rule["metadata"]!["value"])) >= 1);
        var auth = Assert.Single(rule["auth"]!.AsArray())!;
        Assert.Equal("host", Text(auth["triggerParameter"]));
        var host = Text(Secret(app, Text(auth["secretRef"]))["value"]);
        Assert.StartsWith("http://cremad:", host);
        Assert.EndsWith("@rabbitmq:15672/", host);
    }

    [Fact]
    public async Task The_trainer_always_runs_one_replica_on_consumption_without_gpu()
    {
        var (app, _) = await DeployAsync("trainerservice", new Deployments.Settings(EnableGpu: false));

        Assert.Equal("Consumption", Text(app["properties"]!["workloadProfileName"]));
        Assert.Equal(2.0, (double)Container(app)["resources"]!["cpu"]!);
        Assert.Equal("4Gi", Text(Container(app)["resources"]!["memory"]));
        var scale = app["properties"]!["template"]!["scale"]!;
        Assert.Equal(1, (int)scale["minReplicas"]!);
        Assert.Equal(1, (int)scale["maxReplicas"]!);
        Assert.Null(scale["rules"]);
    }

    [Theory]
    [InlineData(null, 8.0, "56Gi")]
    [InlineData("Consumption-GPU-NC24-A100", 24.0, "220Gi")]
    public async Task With_gpu_the_trainer_runs_on_the_gpu_profile_sized_to_it(string? gpuProfileType, double cpu, string memory)
    {
        var environment = await Deployments.ProvisionedEnvironmentAsync(new(EnableGpu: true, GpuProfileType: gpuProfileType));
        var app = (await Deployments.ServiceAsync("trainerservice", environment)).Resource("Microsoft.App/containerApps");

        Assert.Equal("gpu", Text(app["properties"]!["workloadProfileName"]));
        Assert.Equal(cpu, (double)Container(app)["resources"]!["cpu"]!);
        Assert.Equal(memory, Text(Container(app)["resources"]!["memory"]));

        // Only the trainer moves to the GPU.
        foreach (var other in new[] { "runsapi", "featureservice", "evaluationservice" })
        {
            var otherApp = (await Deployments.ServiceAsync(other, environment)).Resource("Microsoft.App/containerApps");
            Assert.Equal("Consumption", Text(otherApp["properties"]!["workloadProfileName"]));
        }
    }

    [Theory]
    [MemberData(nameof(Deployments.Services), MemberType = typeof(Deployments))]
    public async Task Every_value_the_parameters_file_reads_is_a_provision_output_or_set_by_azd(string service, string appName)
    {
        var main = await Deployments.MainAsync(new());
        var template = await Deployments.ServiceAsync(service, await Deployments.ProvisionedEnvironmentAsync(new()));
        var setByAzd = new[] { "AZURE_ENV_NAME", "AZURE_LOCATION", $"SERVICE_{service.ToUpperInvariant()}_IMAGE_NAME" };
        // Secrets the user sets with `azd env set` (infra/README.md): a provision output would show them in the deployment.
        var secretsSetByUser = service == "runsapi" ? new[] { "CREMAD_RUNS_API_KEY" } : [];

        Assert.All(AzdEnvironment.ReferencedNames(Deployments.ParametersPath(service)),
            name => Assert.True(main.OutputNames.Contains(name) || setByAzd.Contains(name) || secretsSetByUser.Contains(name),
                $"nothing sets {name}"));
        Assert.All(secretsSetByUser, name => Assert.DoesNotContain(name, main.OutputNames));

        var supplied = JsonNode.Parse(File.ReadAllText(Deployments.ParametersPath(service)))!["parameters"]!.AsObject();
        foreach (var (name, declaration) in template.ParameterDeclarations)
        {
            Assert.True(declaration!["defaultValue"] is not null || supplied.ContainsKey(name), $"{service}: {name} gets no value");
            // azd passes deploy-time values as they are, without converting them to the declared type.
            if (supplied.ContainsKey(name)) Assert.Contains((string?)declaration["type"], new[] { "string", "securestring" });
        }
        Assert.Empty(template.ParameterViolations());
        Assert.All(supplied, p => Assert.True(template.ParameterDeclarations.ContainsKey(p.Key), $"{service}: {p.Key} is not declared"));
        Assert.NotEmpty(appName);
    }

    // The queue names the code uses (CremaD.Contracts.QueueNames), so infra follows a rename.
    private static string QueueName(string constant)
    {
        var source = File.ReadAllText(Path.Combine(Repository.Root, "src", "CremaD.Contracts", "BlobLayout.cs"));
        var match = Regex.Match(source, $@"const string {constant} = ""(?<name>[^""]+)""");
        Assert.True(match.Success, $"QueueNames.{constant} not found in src/CremaD.Contracts/BlobLayout.cs");
        return match.Groups["name"].Value;
    }
}
