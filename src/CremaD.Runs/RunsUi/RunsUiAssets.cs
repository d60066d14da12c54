using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace CremaD.Runs;

/// <summary>
/// The UI's files (RunsUi/wwwroot, embedded as <c>runs-ui/&lt;file&gt;</c>), read once and served from memory with an
/// ETag. The page's <c>{{version}}</c> placeholders become <see cref="Version"/>, so a new build's files get new URLs.
/// </summary>
internal sealed class RunsUiAssets
{
    public const string IndexFile = "index.html";

    private const string ResourcePrefix = "runs-ui/";

    private const string VersionPlaceholder = "{{version}}";

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public RunsUiAssets(Assembly assembly)
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
