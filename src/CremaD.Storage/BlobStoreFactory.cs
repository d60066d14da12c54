using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using CremaD.Telemetry;

namespace CremaD.Storage;

/// <summary>
/// Creates the blob store a connection string (the value of <c>ConnectionStrings__blobs</c>, as an Aspire
/// AppHost or azd sets it) points at. Accepted forms:
/// <list type="bullet">
/// <item>an account connection string, as for Azurite:
/// <c>DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=...;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;</c>
/// (also <c>UseDevelopmentStorage=true</c>, and SAS forms with <c>SharedAccessSignature=</c>) → <see cref="AzureBlobStore"/>;</item>
/// <item>a blob endpoint URI, <c>https://&lt;account&gt;.blob.core.windows.net/</c> → <see cref="AzureBlobStore"/>
/// authenticated with <see cref="DefaultAzureCredential"/> (managed identity in Azure, developer login
/// locally), or with its SAS token when the URI carries one;</item>
/// <item><c>file:///abs/path</c> or a plain directory path (absolute, or relative to the current directory)
/// → <see cref="LocalFolderBlobStore"/>.</item>
/// </list>
/// The container name selects the container in Azure and a subfolder of the directory locally, so one
/// connection string can hold several stores the same way everywhere.
/// </summary>
public static partial class BlobStoreFactory
{
    /// <exception cref="FormatException">The value or the container name is malformed; the message says how (never quoting a key).</exception>
    public static IBlobStore FromConnectionString(string value, string container, TokenCredential? credential = null)
    {
        AzureSdkTracing.Enable();
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new FormatException("The blob storage connection string is empty; expected an account connection string, an https blob endpoint URI, a file:/// URI or a directory path.");
        }
        ValidateContainerName(container);
        value = value.Trim();

        if (LooksLikeAccountConnectionString(value))
        {
            return new AzureBlobStore(ServiceFromConnectionString(value).GetBlobContainerClient(container));
        }
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && value.Contains("://", StringComparison.Ordinal))
        {
            return uri.Scheme switch
            {
                "file" => Local(uri.LocalPath, container, value),
                "https" or "http" => new AzureBlobStore(ServiceFromEndpoint(uri, credential).GetBlobContainerClient(container)),
                _ => throw new FormatException(
                    $"The blob storage connection string '{value}' has the unsupported scheme '{uri.Scheme}'; expected https:// (blob endpoint), file:// or an account connection string."),
            };
        }
        if (value.Contains("://", StringComparison.Ordinal))
        {
            throw new FormatException($"The blob storage connection string '{value}' is not a valid URI.");
        }
        return Local(value, container, value);
    }

    /// <summary>
    /// Throws <see cref="FormatException"/> unless <paramref name="container"/> follows the Azure rules:
    /// 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
    /// </summary>
    public static void ValidateContainerName(string container)
    {
        if (container is null || !ContainerNamePattern().IsMatch(container))
        {
            throw new FormatException(
                $"Invalid blob container name '{container}': use 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
        }
    }

    // A known setting name, or "x=y;..." shape (a malformed connection string should get a connection-string
    // error, not be taken for a directory); a directory path may contain '=' but hardly ever ';' too.
    private static bool LooksLikeAccountConnectionString(string value) =>
        (value.Contains('=') && value.Contains(';'))
        || Regex.IsMatch(value, @"(^|;)\s*(DefaultEndpointsProtocol|AccountName|AccountKey|BlobEndpoint|UseDevelopmentStorage|SharedAccessSignature)\s*=",
            RegexOptions.IgnoreCase);

    private static BlobServiceClient ServiceFromConnectionString(string value)
    {
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=');
            if (equals <= 0)
            {
                throw new FormatException(
                    $"The blob storage connection string is malformed: '{Redact(part)}' is not a 'Name=value' setting ({Redact(value)}).");
            }
            settings[part[..equals].Trim()] = part[(equals + 1)..].Trim();
        }
        var isDevelopmentStorage = settings.TryGetValue("UseDevelopmentStorage", out var development)
                                   && development.Equals("true", StringComparison.OrdinalIgnoreCase);
        if (!isDevelopmentStorage)
        {
            if (!settings.ContainsKey("BlobEndpoint") && !settings.ContainsKey("AccountName"))
            {
                throw new FormatException(
                    $"The blob storage connection string names neither BlobEndpoint nor AccountName ({Redact(value)}).");
            }
            if (settings.TryGetValue("AccountKey", out var accountKey) && !IsBase64(accountKey))
            {
                throw new FormatException($"The blob storage connection string's AccountKey is not valid base64 ({Redact(value)}).");
            }
            if (!settings.ContainsKey("AccountKey") && !settings.ContainsKey("SharedAccessSignature"))
            {
                throw new FormatException(
                    $"The blob storage connection string has neither AccountKey nor SharedAccessSignature ({Redact(value)}); for managed identity pass just the blob endpoint URI.");
            }
            if (settings.TryGetValue("BlobEndpoint", out var endpoint)
                && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var endpointUri) && endpointUri.Scheme is "http" or "https"))
            {
                throw new FormatException($"The blob storage connection string's BlobEndpoint '{endpoint}' is not an http(s) URI.");
            }
        }
        try
        {
            return new BlobServiceClient(value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new FormatException($"The blob storage connection string is malformed: {e.Message} ({Redact(value)})", e);
        }
    }

    private static BlobServiceClient ServiceFromEndpoint(Uri uri, TokenCredential? credential)
    {
        var hasSas = uri.Query.Contains("sig=", StringComparison.OrdinalIgnoreCase);
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        if (uri.AbsolutePath != "/")
        {
            throw new FormatException(
                $"The blob endpoint URI '{endpoint}' has a path; expected the account's blob endpoint, such as https://<account>.blob.core.windows.net/ (the container is configured separately).");
        }
        if (hasSas)
        {
            return new BlobServiceClient(uri);
        }
        if (uri.Scheme != "https")
        {
            throw new FormatException(
                $"The blob endpoint URI '{endpoint}' must use https to authenticate with Entra ID; for the Azurite emulator pass its account connection string instead.");
        }
        return new BlobServiceClient(uri, credential ?? new DefaultAzureCredential());
    }

    private static LocalFolderBlobStore Local(string directory, string container, string originalValue)
    {
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(directory);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new FormatException($"The blob storage directory '{originalValue}' is not a valid path: {e.Message}", e);
        }
        if (File.Exists(fullPath))
        {
            throw new FormatException($"The blob storage directory '{fullPath}' is a file, not a directory.");
        }
        return new LocalFolderBlobStore(Path.Combine(fullPath, container));
    }

    private static bool IsBase64(string value)
    {
        var buffer = new byte[value.Length];
        return Convert.TryFromBase64String(value, buffer, out _);
    }

    /// <summary>The connection string with secrets (account key, SAS) replaced by "***", fit for an error message.</summary>
    internal static string Redact(string value) =>
        SecretSetting().Replace(value, match => match.Groups["name"].Value + "=***");

    [GeneratedRegex(@"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex ContainerNamePattern();

    [GeneratedRegex(@"(?<name>AccountKey|SharedAccessSignature|sig)\s*=[^;&]*", RegexOptions.IgnoreCase)]
    private static partial Regex SecretSetting();
}
