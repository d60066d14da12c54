using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Orchestration.Resources;
using CremaD.Orchestration.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CremaD.Orchestration.Dashboard;

/// <summary>
/// The dashboard listener's routes: the login, the single page (index.html, with hash routes for resources, console
/// logs, traces and runs), its static files, and the JSON API the page polls.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>Most console lines one request returns; the page asks again with <c>after=</c> for more.</summary>
    public const int MaxLogLines = 5000;

    /// <summary>Most traces one list request returns.</summary>
    public const int MaxTraces = 1000;

    /// <summary>camelCase JSON with enums as camelCase strings ("running", "failedToStart").</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void Map(IEndpointRouteBuilder app, DashboardAuth auth, IResourceCatalog resources, TraceStore traces, RunsApiProxy runs)
    {
        var assets = new EmbeddedAssets(typeof(DashboardEndpoints).Assembly);

        // Open to everyone: the login itself and what the login page needs to look right.
        app.MapGet("/login", (HttpContext context) =>
        {
            var token = context.Request.Query["t"].ToString();
            if (token.Length > 0 && auth.IsToken(token))
            {
                auth.SignIn(context);
                context.Response.Redirect("/");
                return Task.CompletedTask;
            }
            if (token.Length == 0) return Page(context, assets, "login.html");
            // A wrong token gets the form again, with a note, and 401 so scripts notice.
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            SecurityHeaders(context);
            context.Response.Headers.CacheControl = "no-store";
            return Results.Content(
                assets.Text("login.html").Replace("<!--message-->", "<p class=\"notice error\">That token is not the one the AppHost printed.</p>", StringComparison.Ordinal),
                "text/html; charset=utf-8", statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
        });
        app.MapGet("/app.css", (HttpContext context) => assets.ServeAsync(context, "app.css"));
        app.MapGet("/favicon.svg", (HttpContext context) => assets.ServeAsync(context, "favicon.svg"));

        var signedIn = app.MapGroup("").WithMetadata(DashboardAuth.RequiresLogin);
        signedIn.MapGet("/", (HttpContext context) => Page(context, assets, "index.html"));
        signedIn.MapGet("/app.js", (HttpContext context) => assets.ServeAsync(context, "app.js"));

        var api = signedIn.MapGroup("/api");
        api.AddEndpointFilter(async (invocation, next) =>
        {
            invocation.HttpContext.Response.Headers.CacheControl = "no-store";
            return await next(invocation).ConfigureAwait(false);
        });
        api.MapGet("/version", () => Results.Json(new
        {
            resources = ResourceVersion(resources.Snapshot()),
            traces = traces.Version,
            spans = traces.SpanCount,
        }, Json));
        api.MapGet("/resources", () => Results.Json(new { resources = resources.Snapshot() }, Json));
        api.MapGet("/resources/{name}/logs", (string name, long? after, int? max) =>
        {
            var lines = resources.GetLogs(name, Math.Max(after ?? 0, 0), Math.Clamp(max ?? 1000, 1, MaxLogLines));
            if (lines is null) return Results.Json(new { error = $"There is no resource '{name}'." }, Json, statusCode: StatusCodes.Status404NotFound);
            return Results.Json(new { name, lines, last = lines.Count > 0 ? lines[^1].Sequence : Math.Max(after ?? 0, 0) }, Json);
        });
        api.MapGet("/traces", (string? service, string? runId, int? max) =>
        {
            var list = traces.ListTraces(Math.Clamp(max ?? 200, 1, MaxTraces), Blank(service), Blank(runId));
            return Results.Json(new { traces = list.Select(TraceListItem.From), version = traces.Version }, Json);
        });
        api.MapGet("/traces/{traceId}", (string traceId) =>
        {
            var spans = traces.GetTrace(traceId.ToLowerInvariant());
            return spans is { Count: > 0 }
                ? Results.Json(TraceWaterfall.From(traceId.ToLowerInvariant(), spans), Json)
                : Results.Json(new { error = $"There is no trace {traceId} (it may have been dropped: the store keeps the newest spans only)." }, Json,
                    statusCode: StatusCodes.Status404NotFound);
        });
        api.MapGet("/runs", (HttpContext context) => runs.ForwardAsync(context, "runs"));
        api.MapGet("/runs/{runId:guid}", (HttpContext context, Guid runId) => runs.ForwardAsync(context, $"runs/{runId:D}"));
        api.MapGet("/runs/{runId:guid}/artifacts/{name}", (HttpContext context, Guid runId, string name) =>
        {
            if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name is "." or "..")
            {
                return Results.Json(new { error = $"'{name}' is not an artefact name." }, Json, statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
            }
            return runs.ForwardAsync(context, $"runs/{runId:D}/artifacts/{Uri.EscapeDataString(name)}");
        });
    }

    private static Task Page(HttpContext context, EmbeddedAssets assets, string file)
    {
        SecurityHeaders(context);
        return assets.ServeAsync(context, file);
    }

    private static void SecurityHeaders(HttpContext context)
    {
        var headers = context.Response.Headers;
        // Everything the pages use is served from here; nothing may frame them or load from elsewhere.
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>A number that changes when anything on the resources page would (the catalog keeps no counter of its own).</summary>
    private static string ResourceVersion(IReadOnlyList<ResourceSnapshot> snapshot)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(snapshot, Json);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
    }
}
