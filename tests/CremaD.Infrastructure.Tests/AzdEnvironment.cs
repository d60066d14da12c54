using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// What azd does with a <c>*.parameters.json</c> file: substitutes <c>${NAME}</c> and <c>${NAME=default}</c> from the
/// azd environment (unset names become empty strings), then hands the values to ARM.
/// </summary>
public static partial class AzdEnvironment
{
    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(=(?<default>[^}]*))?\}")]
    private static partial Regex Reference();

    /// <summary>Names a parameters file reads from the azd environment.</summary>
    public static IReadOnlyList<string> ReferencedNames(string parametersFile) =>
        Reference().Matches(File.ReadAllText(parametersFile)).Select(m => m.Groups["name"].Value).Distinct().ToList();

    /// <summary>The parameter values of <paramref name="parametersFile"/> under <paramref name="environment"/>.</summary>
    public static Dictionary<string, JsonNode?> Parameters(string parametersFile, IReadOnlyDictionary<string, string> environment)
    {
        var substituted = Reference().Replace(File.ReadAllText(parametersFile), match =>
        {
            var value = environment.TryGetValue(match.Groups["name"].Value, out var set) && set.Length > 0
                ? set
                : match.Groups["default"].Success ? match.Groups["default"].Value : "";
            // The value lands inside a JSON string literal.
            return JsonValue.Create(value).ToJsonString()[1..^1];
        });
        var parameters = JsonNode.Parse(substituted)!["parameters"]!.AsObject();
        return parameters.ToDictionary(p => p.Key, p => p.Value!["value"]?.DeepClone(), StringComparer.OrdinalIgnoreCase);
    }
}
