using System.Reflection;
using System.Security.Cryptography;
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

    private static readonly Lazy<EmbeddedFiles> Files = new(() => new EmbeddedFiles(typeof(RunsUi).Assembly));

    /// <summary>Version of the embedded files (a hash of them all), the <c>v</c> query the page puts on their URLs.</summary>
    public static string Version => Files.Value.Version;

    /// <summary>Maps <c>GET /</c> (the page) and <c>GET /ui/{file}</c> (its script, styles and icon; 404 for anything else).</summary>
    public static IEndpointRouteBuilder MapRunsUi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var assets = Files.Value;
        endpoints.MapGet("/", (HttpContext context) =>
        {
            SecurityHeaders(context.Response);
            return assets.ServeAsync(context, EmbeddedFiles.IndexFile, RevalidateCacheControl);
        }).ExcludeFromDescription();
        endpoints.MapGet(AssetPath + "{file}", (HttpContext context, string file) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            if (file == EmbeddedFiles.IndexFile || !assets.Contains(file))
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

    /// <summary>
    /// The UI's files (src/CremaD.Runs/RunsUi/wwwroot, embedded as <c>runs-ui/&lt;file&gt;</c>), read once and served from memory with an
    /// ETag. The page's <c>{{version}}</c> placeholders become <see cref="Version"/>, so a new build's files get new URLs.
    /// </summary>
    private sealed class EmbeddedFiles
    {
        public const string IndexFile = "index.html";

        private const string ResourcePrefix = "runs-ui/";

        private const string VersionPlaceholder = "{{version}}";

        private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

        public EmbeddedFiles(Assembly assembly)
        {
            var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                files[name[ResourcePrefix.Length..]] = buffer.ToArray();
            }
            if (!files.ContainsKey(IndexFile))
            {
                throw new InvalidOperationException(
                    $"The runs UI's {IndexFile} is not embedded in {assembly.GetName().Name}; check RunsUi/wwwroot and the EmbeddedResource item.");
            }
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                foreach (var (file, content) in files)
                {
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file));
                    hash.AppendData(content);
                }
                Version = Convert.ToHexStringLower(hash.GetHashAndReset())[..12];
            }
            foreach (var (file, content) in files)
            {
                var served = file == IndexFile
                    ? System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(content).Replace(VersionPlaceholder, Version, StringComparison.Ordinal))
                    : content;
                _assets[file] = new Asset(served, ContentTypeOf(file), $"\"{Convert.ToHexStringLower(SHA256.HashData(served))[..16]}\"");
            }
        }

        public string Version { get; }

        public bool Contains(string file) => _assets.ContainsKey(file);

        /// <summary>Writes <paramref name="file"/>, or 304 when the browser's copy is current.</summary>
        public Task ServeAsync(HttpContext context, string file, string cacheControl)
        {
            var asset = _assets[file];
            var response = context.Response;
            response.Headers.ETag = asset.ETag;
            response.Headers.CacheControl = cacheControl;
            if (context.Request.Headers.IfNoneMatch == asset.ETag)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }
            response.ContentType = asset.ContentType;
            response.ContentLength = asset.Content.Length;
            return response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
        }

        private static string ContentTypeOf(string file) => Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".html" => "text/html; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            _ => "application/octet-stream",
        };

        private sealed record Asset(byte[] Content, string ContentType, string ETag);
    }
}
