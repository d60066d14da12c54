using System.Globalization;
using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// Replays what <c>azd up</c> feeds the templates, offline: main.bicep with main.parameters.json under an azd
/// environment, its outputs saved into that environment, then each service's template with its parameters file and
/// the image azd pushed. Values only Azure knows stay <see cref="Unresolved"/>.
/// </summary>
public static class Deployments
{
    /// <summary>The azd environment name the replay uses.</summary>
    public const string EnvironmentName = "cremad-test";

    /// <summary>The region the replay uses.</summary>
    public const string Location = "swedencentral";

    /// <summary>The RabbitMQ password azd would generate (main.bicep's azd metadata) and keep.</summary>
    public const string RabbitMqPassword = "GeneratedByAzd0123456789abcdef";

    /// <summary>The services of azure.yaml, each with the name of the container app it deploys.</summary>
    public static TheoryData<string, string> Services => new()
    {
        { "runsapi", "runs-api" },
        { "featureservice", "feature-service" },
        { "trainerservice", "trainer-service" },
        { "evaluationservice", "evaluation-service" },
    };

    /// <summary>Path of the entry template <paramref name="name"/> (main or a service) in infra/.</summary>
    public static string TemplatePath(string name) => Path.Combine(Repository.Infra, name + ".bicep");

    /// <summary>Path of the azd parameters file of entry template <paramref name="name"/>.</summary>
    public static string ParametersPath(string name) => Path.Combine(Repository.Infra, name + ".parameters.json");

    /// <summary>
    /// The runs API key the replay's user sets (<c>azd env set CREMAD_RUNS_API_KEY "$(openssl rand -hex 32)"</c>): 64
    /// characters, distinctive enough that a search of a template's evaluated JSON finds every place it lands.
    /// </summary>
    public const string RunsApiKey = "5e3f0c1ad2b94e7f8a6c4d2e0f1b3a5c7e9d1f3b5a7c9e1d3f5b7a9c1e3d5f7a";

    /// <summary>Settings a user may put in the azd environment before <c>azd provision</c>.</summary>
    /// <param name="EnableGpu">CREMAD_ENABLE_GPU.</param>
    /// <param name="GpuProfileType">CREMAD_GPU_PROFILE_TYPE, or null to leave it unset.</param>
    /// <param name="OtlpEndpoint">CREMAD_OTLP_ENDPOINT.</param>
    /// <param name="PrincipalId">AZURE_PRINCIPAL_ID (azd sets it to the signed-in user).</param>
    /// <param name="RunsApiExternal">CREMAD_RUNS_API_EXTERNAL, or null to leave it unset.</param>
    /// <param name="RunsApiKey">CREMAD_RUNS_API_KEY, or null to leave it unset.</param>
    public sealed record Settings(
        bool EnableGpu = false,
        string? GpuProfileType = null,
        string OtlpEndpoint = "",
        string PrincipalId = "",
        bool? RunsApiExternal = null,
        string? RunsApiKey = Deployments.RunsApiKey);

    /// <summary>The azd environment before <c>azd provision</c>: what azd sets and what the user set under <paramref name="settings"/>.</summary>
    public static Dictionary<string, string> UserEnvironment(Settings settings)
    {
        var environment = new Dictionary<string, string>
        {
            ["AZURE_ENV_NAME"] = EnvironmentName,
            ["AZURE_LOCATION"] = Location,
            ["AZURE_PRINCIPAL_ID"] = settings.PrincipalId,
            ["CREMAD_ENABLE_GPU"] = settings.EnableGpu ? "true" : "false",
            ["CREMAD_OTLP_ENDPOINT"] = settings.OtlpEndpoint,
        };
        if (settings.GpuProfileType is not null) environment["CREMAD_GPU_PROFILE_TYPE"] = settings.GpuProfileType;
        if (settings.RunsApiExternal is { } external) environment["CREMAD_RUNS_API_EXTERNAL"] = external ? "true" : "false";
        if (settings.RunsApiKey is not null) environment["CREMAD_RUNS_API_KEY"] = settings.RunsApiKey;
        return environment;
    }

    /// <summary>main.bicep bound to what azd passes it under <paramref name="settings"/>.</summary>
    public static async Task<ArmTemplate> MainAsync(Settings settings)
    {
        var json = await BicepCli.CompileAsync(TemplatePath("main"));
        var parameters = AzdEnvironment.Parameters(ParametersPath("main"), UserEnvironment(settings));
        // At provision time azd converts parameter file strings to the declared types and fills generated parameters.
        var declarations = json["parameters"]!.AsObject();
        foreach (var (name, value) in parameters.ToList())
        {
            var text = value?.GetValue<string>();
            parameters[name] = (string?)declarations[name]?["type"] switch
            {
                "bool" => JsonValue.Create(bool.Parse(text!)),
                "int" => JsonValue.Create(int.Parse(text!, CultureInfo.InvariantCulture)),
                _ => value,
            };
        }
        parameters["rabbitMqPassword"] = JsonValue.Create(RabbitMqPassword);
        return new ArmTemplate(json, parameters);
    }

    /// <summary>The azd environment after <c>azd provision</c> and the image pushes of <c>azd deploy</c>.</summary>
    public static async Task<Dictionary<string, string>> ProvisionedEnvironmentAsync(Settings settings)
    {
        var main = await MainAsync(settings);
        // The user's settings stay in the environment's .env; azd adds main.bicep's outputs to them.
        var environment = UserEnvironment(settings);
        foreach (var output in main.OutputNames) environment[output] = ArmExpressions.Render(main.Output(output));
        foreach (var service in Services.Select(row => (string)row[0]))
            environment[$"SERVICE_{service.ToUpperInvariant()}_IMAGE_NAME"] = ImageName(environment, service);
        return environment;
    }

    /// <summary>The image reference azd records after pushing <paramref name="service"/> (its naming scheme).</summary>
    public static string ImageName(IReadOnlyDictionary<string, string> environment, string service) =>
        $"{environment["AZURE_CONTAINER_REGISTRY_ENDPOINT"]}/cremad/{service}-{EnvironmentName}:azd-deploy-1700000000";

    /// <summary>Service template <paramref name="service"/> bound to its parameters file under <paramref name="environment"/>.</summary>
    public static async Task<ArmTemplate> ServiceAsync(string service, IReadOnlyDictionary<string, string> environment)
    {
        var json = await BicepCli.CompileAsync(TemplatePath(service));
        return new ArmTemplate(json, AzdEnvironment.Parameters(ParametersPath(service), environment));
    }
}
