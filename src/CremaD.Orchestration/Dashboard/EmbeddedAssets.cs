using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace CremaD.Orchestration.Dashboard;

/// <summary>
/// The dashboard's static files (Dashboard/wwwroot, embedded as <c>dashboard/&lt;path&gt;</c>), read once and served
/// from memory with an ETag, so the AppHost needs no content folder and the pages work offline.
/// </summary>
internal sealed class EmbeddedAssets
{
    private const string Prefix = "dashboard/";

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public EmbeddedAssets(Assembly assembly)
    {
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var path = name[Prefix.Length..].Replace('\\', '/');
            _assets[path] = new Asset(content, ContentTypeOf(path), $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }
    }

    /// <summary>Relative paths of every file, e.g. <c>app.js</c>.</summary>
    public IEnumerable<string> Paths => _assets.Keys;

    /// <summary>The text of a UTF-8 file, for a page that fills a placeholder before serving it.</summary>
    public string Text(string path) => System.Text.Encoding.UTF8.GetString(Find(path).Content);

    /// <summary>Writes the file at <paramref name="path"/>, or 304 when the browser's copy is current.</summary>
    public Task ServeAsync(HttpContext context, string path)
    {
        var asset = Find(path);
        var response = context.Response;
        response.Headers.ETag = asset.ETag;
        // Revalidate every time: the files change with every build of the AppHost, and a 304 costs next to nothing.
        response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Content.Length;
        return response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
    }

    private Asset Find(string path) => _assets.TryGetValue(path, out var asset)
        ? asset
        : throw new InvalidOperationException($"The dashboard asset '{path}' is not embedded in {typeof(EmbeddedAssets).Assembly.GetName().Name}; check Dashboard/wwwroot.");

    private static string ContentTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
