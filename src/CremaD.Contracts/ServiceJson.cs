using System.Text.Json;
using System.Text.Json.Serialization;

namespace CremaD.Contracts;

/// <summary>
/// How the services write their own JSON blobs (run status, shard manifests, training requests): the web
/// conventions the runs API answers with (camelCase), so status.json can be streamed to a client as it is.
/// </summary>
public static class ServiceJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
