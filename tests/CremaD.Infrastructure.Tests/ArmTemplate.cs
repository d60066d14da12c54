using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// A compiled ARM template (the JSON <c>bicep build</c> writes) bound to parameter values, so its resources, module
/// parameters and outputs can be read with every Azure-independent expression worked out.
/// </summary>
public sealed class ArmTemplate : ArmExpressions.IScope
{
    private readonly JsonObject root;
    private readonly IReadOnlyDictionary<string, JsonNode?> parameterValues;
    private readonly Dictionary<string, JsonNode?> variableCache = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Binds <paramref name="root"/> to <paramref name="parameterValues"/>; missing ones take their defaults.</summary>
    public ArmTemplate(JsonObject root, IReadOnlyDictionary<string, JsonNode?> parameterValues)
    {
        this.root = root;
        this.parameterValues = new Dictionary<string, JsonNode?>(parameterValues, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The template JSON as compiled.</summary>
    public JsonObject Json => root;

    /// <summary>Declared parameters (name to declaration).</summary>
    public JsonObject ParameterDeclarations => root["parameters"]?.AsObject() ?? [];

    /// <summary>Declared output names.</summary>
    public IReadOnlyList<string> OutputNames => (root["outputs"]?.AsObject() ?? []).Select(o => o.Key).ToList();

    /// <summary>Every resource declaration (templates with symbolic names keep them in an object, others in an array).</summary>
    public IReadOnlyList<JsonObject> ResourceDeclarations => root["resources"] switch
    {
        JsonArray array => array.Select(r => r!.AsObject()).ToList(),
        JsonObject obj => obj.Select(p => p.Value!.AsObject()).ToList(),
        _ => [],
    };

    /// <summary>
    /// Evaluated resources of <paramref name="type"/> that this template creates under its parameters: not
    /// <c>existing</c> ones, nor those whose <c>condition</c> is false.
    /// </summary>
    public IReadOnlyList<JsonObject> Resources(string type) =>
        ResourceDeclarations
            .Where(r => string.Equals((string?)r["type"], type, StringComparison.OrdinalIgnoreCase))
            .Where(r => r["existing"] is null || !(bool)r["existing"]!)
            .Where(r => r["condition"] is null || Evaluate(r["condition"]) is not JsonValue condition
                        || !condition.TryGetValue<bool>(out var deployed) || deployed)
            .Select(r => Evaluate(r)!.AsObject())
            .ToList();

    /// <summary>The single evaluated resource of <paramref name="type"/>; fails when there is not exactly one.</summary>
    public JsonObject Resource(string type) => Assert.Single(Resources(type));

    /// <summary>The module deployed as <paramref name="deploymentName"/>, bound to the parameters this template passes it.</summary>
    public ArmTemplate Module(string deploymentName)
    {
        var declaration = ResourceDeclarations.SingleOrDefault(r =>
                (string?)r["type"] == "Microsoft.Resources/deployments" && (string?)r["name"] == deploymentName)
            ?? throw new InvalidOperationException($"the template has no module deployment '{deploymentName}'");
        var properties = declaration["properties"]!.AsObject();
        var arguments = new Dictionary<string, JsonNode?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, argument) in properties["parameters"]?.AsObject() ?? [])
        {
            // Usually {"value": ...}; bicep writes a conditional argument as one expression yielding that object.
            arguments[name] = argument is JsonObject wrapper
                ? Evaluate(wrapper["value"])
                : ArmExpressions.Clone(Evaluate(argument)?.AsObject()["value"]);
        }
        return new ArmTemplate(properties["template"]!.AsObject(), arguments);
    }

    /// <summary>The evaluated value of output <paramref name="name"/>.</summary>
    public JsonNode? Output(string name) =>
        Evaluate(root["outputs"]?[name]?["value"]
            ?? throw new InvalidOperationException($"the template has no output '{name}'"));

    /// <summary>Evaluates every expression in <paramref name="node"/> (keys included), returning a new tree.</summary>
    public JsonNode? Evaluate(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(
            ArmExpressions.Render(ArmExpressions.EvaluateString(p.Key, this)), Evaluate(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Evaluate).ToArray()),
        JsonValue value when value.TryGetValue<string>(out var text) => ArmExpressions.EvaluateString(text, this),
        _ => ArmExpressions.Clone(node),
    };

    /// <summary>
    /// What ARM's validation of the parameter values would refuse before deploying anything: a required parameter
    /// without a value, a value of the wrong type, one outside <c>allowedValues</c>, shorter or longer than
    /// <c>minLength</c>/<c>maxLength</c> (strings and arrays), or below/above <c>minValue</c>/<c>maxValue</c> (ints).
    /// Values that depend on Azure (unresolved defaults) are not judged. Empty when every value is acceptable.
    /// </summary>
    public IReadOnlyList<string> ParameterViolations()
    {
        var violations = new List<string>();
        foreach (var (name, declarationNode) in ParameterDeclarations)
        {
            var declaration = declarationNode!.AsObject();
            JsonNode? value;
            if (parameterValues.TryGetValue(name, out var supplied)) value = supplied;
            else if (declaration.TryGetPropertyValue("defaultValue", out var defaultValue)) value = Evaluate(defaultValue);
            else
            {
                violations.Add($"{name}: no value supplied and no default");
                continue;
            }
            if (ArmExpressions.AsUnresolved(value) is not null) continue;

            var type = ((string?)declaration["type"] ?? "").ToLowerInvariant();
            var typed = (type, value) switch
            {
                ("string" or "securestring", JsonValue v) => v.TryGetValue<string>(out _),
                ("bool", JsonValue v) => v.TryGetValue<bool>(out _),
                ("int", JsonValue v) => TryGetInteger(v, out _),
                ("object" or "secureobject", JsonObject) => true,
                ("array", JsonArray) => true,
                _ => false,
            };
            if (!typed)
            {
                violations.Add($"{name}: a value of type {type} is expected");
                continue;
            }

            if (declaration["allowedValues"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
                violations.Add($"{name}: the value is not one of the allowed values");

            int? length = value switch
            {
                JsonValue v when v.TryGetValue<string>(out var text) => text.Length,
                JsonArray array => array.Count,
                _ => null,
            };
            if (length is { } l && declaration["minLength"] is { } minLength && l < (int)minLength)
                violations.Add($"{name}: length {l} is below minLength {(int)minLength}");
            if (length is { } m && declaration["maxLength"] is { } maxLength && m > (int)maxLength)
                violations.Add($"{name}: length {m} is above maxLength {(int)maxLength}");

            if (value is JsonValue number && TryGetInteger(number, out var n))
            {
                if (declaration["minValue"] is { } minValue && n < (long)minValue)
                    violations.Add($"{name}: {n} is below minValue {(long)minValue}");
                if (declaration["maxValue"] is { } maxValue && n > (long)maxValue)
                    violations.Add($"{name}: {n} is above maxValue {(long)maxValue}");
            }
        }
        return violations;
    }

    // Parsed JSON numbers read as long; values built in code (JsonValue.Create(int)) only as the type they were made of.
    private static bool TryGetInteger(JsonValue value, out long integer)
    {
        if (value.TryGetValue(out integer)) return true;
        if (!value.TryGetValue<int>(out var small)) return false;
        integer = small;
        return true;
    }

    /// <inheritdoc />
    public JsonNode? Parameter(string name)
    {
        if (parameterValues.TryGetValue(name, out var supplied)) return ArmExpressions.Clone(supplied);
        var declaration = ParameterDeclarations[name]
            ?? throw new InvalidOperationException($"the template declares no parameter '{name}'");
        if (declaration.AsObject().TryGetPropertyValue("defaultValue", out var defaultValue)) return Evaluate(defaultValue);
        throw new InvalidOperationException($"parameter '{name}' has no value and no default");
    }

    /// <inheritdoc />
    public JsonNode? Variable(string name)
    {
        if (!variableCache.TryGetValue(name, out var value))
        {
            var declaration = root["variables"]?.AsObject()[name]
                ?? throw new InvalidOperationException($"the template declares no variable '{name}'");
            value = Evaluate(declaration);
            variableCache[name] = value;
        }
        return ArmExpressions.Clone(value);
    }

    /// <inheritdoc />
    public JsonNode? Reference(Unresolved resourceId)
    {
        // A module's outputs are known offline: evaluate the nested template with the parameters passed to it.
        if (resourceId.ResourceType != "Microsoft.Resources/deployments" || resourceId.ResourceName is null) return null;
        var module = Module(resourceId.ResourceName);
        var outputs = new JsonObject();
        foreach (var name in module.OutputNames) outputs[name] = new JsonObject { ["value"] = module.Output(name) };
        return new JsonObject { ["outputs"] = outputs };
    }
}
