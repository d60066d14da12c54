using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CremaD.Runs;

/// <summary>
/// The runs API's web UI: the run list, a run's stage timeline, live training curves, test metrics, confusion matrix
/// and artefacts, for the ML view the Aspire dashboard lacks (its resource links to the runs API's address). A single
/// page at <c>/</c> (hash routes: <c>/#/runs</c>, <c>/#/runs/{id}</c>) and its files at <c>/ui/{file}</c>, embedded in
/// this assembly, so a host needs no content folder. The page calls the JSON endpoints of <see cref="RunsApi"/> on
/// the same origin.
/// </summary>
public static class RunsUi
{
    /// <summary>Path prefix of the page's files.</summary>
    public const string AssetPath = "/ui/";

    /// <summary>Cache-Control of a file requested with the current version: its URL changes whenever its content does.</summary>
    public const string ImmutableCacheControl = "public, max-age=31536000, immutable";

    /// <summary>Cache-Control of the page and of unversioned file URLs: revalidate (a 304 costs next to nothing).</summary>
    public const string RevalidateCacheControl = "no-cache";

    /// <summary>What the page may load and who may frame it: only this origin, nothing inline, no framing.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    private static readonly Lazy<RunsUiAssets> Assets = new(() => new RunsUiAssets(typeof(RunsUi).Assembly));

    /// <summary>Version of the embedded files (a hash of them all), the <c>v</c> query the page puts on their URLs.</summary>
    public static string Version => Assets.Value.Version;

    /// <summary>Maps <c>GET /</c> (the page) and <c>GET /ui/{file}</c> (its script, styles and icon; 404 for anything else).</summary>
    public static IEndpointRouteBuilder MapRunsUi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var assets = Assets.Value;
        endpoints.MapGet("/", (HttpContext context) =>
        {
            SecurityHeaders(context.Response);
            return assets.ServeAsync(context, RunsUiAssets.IndexFile, RevalidateCacheControl);
        }).ExcludeFromDescription();
        endpoints.MapGet(AssetPath + "{file}", (HttpContext context, string file) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            if (file == RunsUiAssets.IndexFile || !assets.Contains(file))
            {
                return Results.NotFound(new { error = $"The runs UI has no file '{file}'." }).ExecuteAsync(context);
            }
            // Only the version the page asked for may be kept for good: an old page asking for its old version gets
            // today's file, which must not then stick in its cache under the old URL.
            var cache = context.Request.Query["v"] == assets.Version ? ImmutableCacheControl : RevalidateCacheControl;
            return assets.ServeAsync(context, file, cache);
        }).ExcludeFromDescription();
        return endpoints;
    }

    private static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }
}
