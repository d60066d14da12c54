using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>What main.bicep provisions, read from the compiled template under the parameters azd passes.</summary>
public sealed class MainTemplateTests
{
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

    private static string Text(JsonNode? node) => ArmExpressions.Render(node);

    [Fact]
    public async Task Deploys_at_subscription_scope_into_a_resource_group_named_and_tagged_for_the_azd_environment()
    {
        var main = await Deployments.MainAsync(new());

        Assert.Contains("subscriptionDeploymentTemplate", (string?)main.Json["$schema"]);
        var group = main.Resource("Microsoft.Resources/resourceGroups");
        Assert.Equal($"rg-{Deployments.EnvironmentName}", Text(group["name"]));
        Assert.Equal(Deployments.Location, Text(group["location"]));
        Assert.Equal(Deployments.EnvironmentName, Text(group["tags"]!["azd-env-name"]));
        Assert.Equal($"rg-{Deployments.EnvironmentName}", Text(main.Output("AZURE_RESOURCE_GROUP")));
    }

    [Fact]
    public async Task Storage_is_storage_v2_with_shared_keys_off_and_the_cremad_container()
    {
        var storage = (await Deployments.MainAsync(new())).Module("storage");

        var account = storage.Resource("Microsoft.Storage/storageAccounts");
        Assert.Equal("StorageV2", Text(account["kind"]));
        Assert.False((bool)account["properties"]!["allowSharedKeyAccess"]!);
        Assert.False((bool)account["properties"]!["allowBlobPublicAccess"]!);
        Assert.Equal("TLS1_2", Text(account["properties"]!["minimumTlsVersion"]));
        var container = storage.Resource("Microsoft.Storage/storageAccounts/blobServices/containers");
        Assert.EndsWith("/default/cremad", Text(container["name"]));
        Assert.Equal("None", Text(container["properties"]!["publicAccess"]));
    }

    [Fact]
    public async Task The_apps_identity_gets_storage_blob_data_contributor_on_the_account()
    {
        var storage = (await Deployments.MainAsync(new())).Module("storage");

        var grant = Assert.Single(storage.Resources("Microsoft.Authorization/roleAssignments"));
        Assert.EndsWith($"Microsoft.Authorization/roleDefinitions/{BlobDataContributor}", Text(grant["properties"]!["roleDefinitionId"]));
        Assert.Equal("ServicePrincipal", Text(grant["properties"]!["principalType"]));
        AssertIsTheAppsIdentityPrincipal(grant["properties"]!["principalId"]);
        Assert.Contains("Microsoft.Storage/storageAccounts/", Text(grant["scope"]));
    }

    [Fact]
    public async Task The_deploying_user_also_gets_blob_access_when_azd_knows_them()
    {
        var storage = (await Deployments.MainAsync(new(PrincipalId: "6c1b3f4e-0000-4000-8000-000000000001"))).Module("storage");

        var grants = storage.Resources("Microsoft.Authorization/roleAssignments");
        Assert.Equal(2, grants.Count);
        var user = Assert.Single(grants, g => Text(g["properties"]!["principalId"]) == "6c1b3f4e-0000-4000-8000-000000000001");
        Assert.EndsWith(BlobDataContributor, Text(user["properties"]!["roleDefinitionId"]));
    }

    [Fact]
    public async Task The_registry_has_no_admin_user_and_the_apps_identity_gets_acr_pull()
    {
        var registry = (await Deployments.MainAsync(new())).Module("registry");

        var acr = registry.Resource("Microsoft.ContainerRegistry/registries");
        Assert.False((bool)acr["properties"]!["adminUserEnabled"]!);
        var grant = registry.Resource("Microsoft.Authorization/roleAssignments");
        Assert.EndsWith($"Microsoft.Authorization/roleDefinitions/{AcrPull}", Text(grant["properties"]!["roleDefinitionId"]));
        AssertIsTheAppsIdentityPrincipal(grant["properties"]!["principalId"]);
    }

    [Fact]
    public async Task Logs_go_to_a_log_analytics_workspace()
    {
        var main = await Deployments.MainAsync(new());

        Assert.NotNull(main.Module("monitoring").Resource("Microsoft.OperationalInsights/workspaces"));
        var environment = main.Module("container-apps-environment").Resource("Microsoft.App/managedEnvironments");
        Assert.Equal("log-analytics", Text(environment["properties"]!["appLogsConfiguration"]!["destination"]));
    }

    [Fact]
    public async Task Without_gpu_the_environment_has_only_the_consumption_profile_and_the_trainer_uses_it()
    {
        var main = await Deployments.MainAsync(new(EnableGpu: false));

        var environment = main.Module("container-apps-environment").Resource("Microsoft.App/managedEnvironments");
        var profile = Assert.Single(environment["properties"]!["workloadProfiles"]!.AsArray());
        Assert.Equal("Consumption", Text(profile!["workloadProfileType"]));
        Assert.Equal("Consumption", Text(main.Output("AZURE_CONTAINER_APPS_TRAINER_WORKLOAD_PROFILE")));
        Assert.Equal("", Text(main.Output("AZURE_CONTAINER_APPS_GPU_PROFILE_TYPE")));
    }

    [Theory]
    [InlineData(null, "Consumption-GPU-NC8as-T4")]
    [InlineData("Consumption-GPU-NC24-A100", "Consumption-GPU-NC24-A100")]
    public async Task With_gpu_the_environment_adds_the_serverless_gpu_profile_for_the_trainer(string? requested, string expectedType)
    {
        var main = await Deployments.MainAsync(new(EnableGpu: true, GpuProfileType: requested));

        var environment = main.Module("container-apps-environment").Resource("Microsoft.App/managedEnvironments");
        var profiles = environment["properties"]!["workloadProfiles"]!.AsArray();
        Assert.Equal(["Consumption", expectedType], profiles.Select(p => Text(p!["workloadProfileType"])));
        var gpuProfileName = Text(profiles[1]!["name"]);
        Assert.Equal(gpuProfileName, Text(main.Output("AZURE_CONTAINER_APPS_TRAINER_WORKLOAD_PROFILE")));
        Assert.Equal(expectedType, Text(main.Output("AZURE_CONTAINER_APPS_GPU_PROFILE_TYPE")));
    }

    [Fact]
    public void Gpu_is_off_by_default_and_t4_is_the_default_profile()
    {
        var parameters = JsonNode.Parse(File.ReadAllText(Deployments.ParametersPath("main")))!["parameters"]!;

        Assert.Equal("${CREMAD_ENABLE_GPU=false}", (string?)parameters["enableGpu"]!["value"]);
        Assert.Equal("${CREMAD_GPU_PROFILE_TYPE=Consumption-GPU-NC8as-T4}", (string?)parameters["gpuProfileType"]!["value"]);
    }

    [Fact]
    public async Task RabbitMq_is_an_internal_tcp_app_with_one_replica_and_its_password_as_a_secret()
    {
        var rabbitMq = (await Deployments.MainAsync(new())).Module("rabbitmq");

        var app = rabbitMq.Resource("Microsoft.App/containerApps");
        Assert.Equal("rabbitmq", Text(app["name"]));
        var configuration = app["properties"]!["configuration"]!;
        var ingress = configuration["ingress"]!;
        Assert.False((bool)ingress["external"]!);
        Assert.Equal("tcp", Text(ingress["transport"]));
        Assert.Equal(5672, (int)ingress["targetPort"]!);
        Assert.Equal(5672, (int)ingress["exposedPort"]!);
        var management = Assert.Single(ingress["additionalPortMappings"]!.AsArray());
        Assert.Equal(15672, (int)management!["targetPort"]!);
        Assert.False((bool)management["external"]!);

        var secret = Assert.Single(configuration["secrets"]!.AsArray());
        Assert.Equal("rabbitmq-password", Text(secret!["name"]));
        Assert.Equal(Deployments.RabbitMqPassword, Text(secret["value"]));

        var container = Assert.Single(app["properties"]!["template"]!["containers"]!.AsArray())!;
        Assert.Equal("docker.io/library/rabbitmq:4-management", Text(container["image"]));
        var password = Assert.Single(container["env"]!.AsArray(), e => Text(e!["name"]) == "RABBITMQ_DEFAULT_PASS")!;
        Assert.Equal("rabbitmq-password", Text(password["secretRef"]));
        Assert.Null(password["value"]);
        Assert.Equal(1, (int)app["properties"]!["template"]!["scale"]!["minReplicas"]!);
    }

    [Fact]
    public async Task The_rabbitmq_password_is_a_secure_parameter_azd_generates()
    {
        var main = await Deployments.MainAsync(new());

        var declaration = main.ParameterDeclarations["rabbitMqPassword"]!;
        Assert.Equal("securestring", (string?)declaration["type"]);
        Assert.Null(declaration["defaultValue"]);
        Assert.Equal("generate", (string?)declaration["metadata"]!["azd"]!["type"]);
        Assert.DoesNotContain(main.OutputNames, name => name.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Outputs_give_azd_the_registry_and_the_runs_api_url()
    {
        var main = await Deployments.MainAsync(new());

        foreach (var name in new[] { "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_CONTAINER_REGISTRY_ENDPOINT",
                     "AZURE_CONTAINER_REGISTRY_NAME", "AZURE_CONTAINER_APPS_ENVIRONMENT_NAME", "AZURE_MANAGED_IDENTITY_CLIENT_ID",
                     "AZURE_STORAGE_BLOB_ENDPOINT", "RUNS_API_URL" })
            Assert.Contains(name, main.OutputNames);
        Assert.Contains("loginServer", Text(main.Output("AZURE_CONTAINER_REGISTRY_ENDPOINT")));
        Assert.Contains("primaryEndpoints.blob", Text(main.Output("AZURE_STORAGE_BLOB_ENDPOINT")));
        var runsApiUrl = Text(main.Output("RUNS_API_URL"));
        Assert.StartsWith("https://runs-api.", runsApiUrl);
        Assert.Contains("defaultDomain", runsApiUrl);
    }

    [Fact]
    public async Task The_otlp_endpoint_is_optional_and_passed_on()
    {
        Assert.Equal("", Text((await Deployments.MainAsync(new())).Output("CREMAD_OTLP_ENDPOINT")));
        Assert.Equal("http://otel-collector:4317",
            Text((await Deployments.MainAsync(new(OtlpEndpoint: "http://otel-collector:4317"))).Output("CREMAD_OTLP_ENDPOINT")));
    }

    [Fact]
    public async Task The_parameters_file_sets_only_declared_parameters_and_azd_can_fill_every_required_one()
    {
        var main = await Deployments.MainAsync(new());
        var file = JsonNode.Parse(File.ReadAllText(Deployments.ParametersPath("main")))!["parameters"]!.AsObject();

        Assert.All(file, p => Assert.True(main.ParameterDeclarations.ContainsKey(p.Key), $"{p.Key} is not a parameter of main.bicep"));
        foreach (var (name, declaration) in main.ParameterDeclarations)
        {
            var required = declaration!["defaultValue"] is null;
            var generated = (string?)declaration["metadata"]?["azd"]?["type"] == "generate";
            Assert.True(!required || file.ContainsKey(name) || generated, $"azd has no value for required parameter {name}");
        }
    }

    // Role grants go to the principal of the identity module (the one the apps run as), not to anyone else.
    private static void AssertIsTheAppsIdentityPrincipal(JsonNode? principalId)
    {
        var text = Text(principalId);
        Assert.Contains("Microsoft.ManagedIdentity/userAssignedIdentities", text);
        Assert.EndsWith(".principalId⟧", text);
    }
}
