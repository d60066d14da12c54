using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace CremaD.Orchestration.Dashboard;

/// <summary>
/// Forwards the runs pages' requests to the runs API (GET only), so the browser needs one origin and one login. The
/// runs API's JSON is passed through untouched; artefacts are streamed, not buffered.
/// </summary>
internal sealed class RunsApiProxy(IHttpClientFactory clients, Func<Uri?> baseAddress)
{
    /// <summary>Name of the HttpClient the proxy uses.</summary>
    public const string ClientName = "cremad-dashboard-runs";

    /// <summary>Sends GET <paramref name="relativePath"/> to the runs API and copies the answer into <paramref name="context"/>.</summary>
    public async Task ForwardAsync(HttpContext context, string relativePath)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        var root = baseAddress();
        if (root is null)
        {
            await Problem(context, StatusCodes.Status503ServiceUnavailable,
                "The runs API is not running yet: runs appear here once the AppHost has started it (see the resources page).").ConfigureAwait(false);
            return;
        }
        // Uri resolution drops the last segment of a base without a trailing slash; http://host:port/prefix must keep it.
        if (!root.AbsoluteUri.EndsWith('/')) root = new Uri(root.AbsoluteUri + "/");
        var target = new Uri(root, relativePath);
        var client = clients.CreateClient(ClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, target);
        // Looking at the dashboard is not part of a run: keep the proxied calls out of the traces it shows.
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        HttpResponseMessage upstream;
        try
        {
            upstream = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError is HttpRequestError.ConnectionError)
        {
            await Problem(context, StatusCodes.Status503ServiceUnavailable, $"The runs API at {root} is not answering ({e.Message}); it may be restarting.").ConfigureAwait(false);
            return;
        }
        catch (HttpRequestException e)
        {
            await Problem(context, StatusCodes.Status502BadGateway, $"The runs API at {root} failed: {e.Message}").ConfigureAwait(false);
            return;
        }
        catch (TaskCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await Problem(context, StatusCodes.Status504GatewayTimeout, $"The runs API at {root} did not answer within {client.Timeout.TotalSeconds:0} s.").ConfigureAwait(false);
            return;
        }
        using (upstream)
        {
            response.StatusCode = (int)upstream.StatusCode;
            var headers = upstream.Content.Headers;
            if (headers.ContentType is { } type) response.ContentType = type.ToString();
            if (headers.ContentLength is { } length) response.ContentLength = length;
            if (headers.ContentDisposition is { } disposition) response.Headers.ContentDisposition = disposition.ToString();
            if (upstream.StatusCode == HttpStatusCode.NotModified) return;
            var body = await upstream.Content.ReadAsStreamAsync(context.RequestAborted).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await body.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    private static Task Problem(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = message }, context.RequestAborted);
    }
}
