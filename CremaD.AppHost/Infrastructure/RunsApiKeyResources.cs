using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CremaD.AppHost.Infrastructure;

/// <summary>
/// The runs API's key: an Aspire secret parameter (<see cref="ParameterName"/>), generated on first use and kept in
/// the AppHost's user secrets so it stays the same across runs (a value in configuration, <c>Parameters:runs-api-key</c>,
/// takes its place). The runs API gets it as <c>RunsApi__ApiKey</c>, its clients as their own setting; the dashboard's
/// "Runs UI" link carries it in the URL fragment (never sent to a server: the page keeps it in the tab's session
/// storage); and it is written to a file only the user can read, whose path the console prints with the API's URL.
/// </summary>
public static class RunsApiKeyResources
{
    public const string ParameterName = "runs-api-key";

    /// <summary>The file the key is written to, in the AppHost's working folder (removed when the AppHost stops).</summary>
    public const string KeyFileName = "runs-api.key";

    public static IResourceBuilder<ParameterResource> AddRunsApiKey(this IDistributedApplicationBuilder builder) =>
        // 48 letters and digits (~285 bits): no character a shell or a URL would need quoted.
        builder.AddParameter(ParameterName, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

    /// <summary>
    /// Gives the runs API its key, makes the dashboard's link to its UI carry the key, and once the API is up, writes the
    /// key file and prints where the API and the key are.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRunsApiKey(this IResourceBuilder<ProjectResource> runsApi,
        IResourceBuilder<ParameterResource> key, AppHostState state)
    {
        runsApi.WithEnvironment("RunsApi__ApiKey", key);
        if (runsApi.ApplicationBuilder.ExecutionContext.IsPublishMode) return runsApi;

        runsApi.WithUrls(async context =>
        {
            var value = await key.Resource.GetValueAsync(context.CancellationToken).ConfigureAwait(false);
            foreach (var url in context.Urls.Where(u => u.Endpoint?.EndpointName == "http"))
            {
                url.Url = $"{url.Url.TrimEnd('/')}/#key={value}";
                url.DisplayText = "Runs UI";
            }
        });
        runsApi.OnResourceReady(async (resource, _, cancellationToken) =>
        {
            var value = await key.Resource.GetValueAsync(cancellationToken).ConfigureAwait(false);
            var keyFile = state.PathOf(KeyFileName);
            await File.WriteAllTextAsync(keyFile, value, cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var api = $"{runsApi.GetEndpoint("http").Url.TrimEnd('/')}/runs";
            Console.WriteLine($"""
                CremaD runs API: {api}  (every request needs 'Authorization: Bearer <key>')
                  key: {keyFile}  (also the dashboard's parameter '{ParameterName}', kept in this AppHost's user secrets)
                  try: curl -H "Authorization: Bearer $(cat {keyFile})" {api}
                """);
        });
        return runsApi;
    }
}
