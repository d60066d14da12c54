using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace CremaD.RunsUi.Tests;

/// <summary>The UI's routes on the real runs API: the page at /, its files at /ui/…, content types, cache headers, 404s.</summary>
public sealed partial class RunsUiRouteTests : IAsyncLifetime
{
    private RunsApiHost _host = null!;

    public async Task InitializeAsync() => _host = await RunsApiHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_page_is_served_at_the_root_with_versioned_file_urls_and_security_headers()
    {
        using var response = await _host.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(Runs.RunsUi.RevalidateCacheControl, response.Headers.CacheControl?.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(Runs.RunsUi.ContentSecurityPolicy, Header(response, "Content-Security-Policy"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("{{", html, StringComparison.Ordinal);
        var files = AssetUrl().Matches(html).Select(m => m.Groups["path"].Value).Distinct().ToList();
        Assert.Equal(["/ui/favicon.svg", "/ui/app.css", "/ui/app.js"], files);
        Assert.All(AssetUrl().Matches(html), m => Assert.Equal(Runs.RunsUi.Version, m.Groups["version"].Value));
    }

    [Fact]
    public async Task Sweeps_are_listed_newest_first_with_their_statistics_and_their_merged_model_card_as_a_picture()
    {
        using (var anonymous = await _host.Anonymous.GetAsync("/sweeps"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        Assert.Equal("[]", await _host.Client.GetStringAsync("/sweeps"));
        var older = await _host.AddSweepAsync();
        var newer = await _host.AddSweepAsync();

        var listed = (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<List<Contracts.SweepStatus>>(_host.Client, "/sweeps",
            Contracts.ServiceJson.Options))!;
        Assert.Equal([newer.Record.SweepId, older.Record.SweepId], listed.Select(s => s.SweepId));
        Assert.All(listed, s => Assert.Equal((Contracts.RunStage.Completed, 3), (s.Stage, s.CompletedFolds)));
        Assert.Equal(newer.Runs.Average(r => r.Evaluation!.Accuracy), listed[0].AccuracyMean!.Value, 9);
        Assert.Equal(newer.Record.SubmittedAt, listed[0].SubmittedAt);
        var one = (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<List<Contracts.SweepStatus>>(_host.Client, "/sweeps?limit=1",
            Contracts.ServiceJson.Options))!;
        Assert.Equal([newer.Record.SweepId], one.Select(s => s.SweepId));
        foreach (var limit in new[] { 0, 101 })
        {
            using var refused = await _host.Client.GetAsync($"/sweeps?limit={limit}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("limit must be in [1, 100]", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var png = await _host.Client.GetAsync($"/sweeps/{newer.Record.SweepId:D}/model_card.png");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        var bytes = await png.Content.ReadAsByteArrayAsync();
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.True(bytes.Length > 10_000, $"{bytes.Length} bytes is too small for the model card plot");
    }

    [Theory]
    [InlineData("app.js", "text/javascript; charset=utf-8")]
    [InlineData("app.css", "text/css; charset=utf-8")]
    [InlineData("favicon.svg", "image/svg+xml")]
    public async Task Files_have_their_content_type_and_are_cached_for_good_only_under_the_current_version(string file, string contentType)
    {
        using var versioned = await _host.Client.GetAsync($"/ui/{file}?v={Runs.RunsUi.Version}");
        Assert.Equal(HttpStatusCode.OK, versioned.StatusCode);
        Assert.Equal(contentType, versioned.Content.Headers.ContentType?.ToString());
        Assert.Equal(Runs.RunsUi.ImmutableCacheControl, versioned.Headers.CacheControl?.ToString());
        Assert.Equal("nosniff", Header(versioned, "X-Content-Type-Options"));
        Assert.True((await versioned.Content.ReadAsByteArrayAsync()).Length > 100);

        // No version or another build's: the same file, but the browser must ask again next time.
        foreach (var url in new[] { $"/ui/{file}", $"/ui/{file}?v=0123456789ab" })
        {
            using var plain = await _host.Client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
            Assert.Equal(contentType, plain.Content.Headers.ContentType?.ToString());
            Assert.Equal(Runs.RunsUi.RevalidateCacheControl, plain.Headers.CacheControl?.ToString());
        }
    }

    [Fact]
    public async Task A_current_copy_is_revalidated_with_304()
    {
        using var first = await _host.Client.GetAsync("/ui/app.js");
        var etag = first.Headers.ETag!;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui/app.js");
        request.Headers.IfNoneMatch.Add(etag);

        using var again = await _host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal(etag, again.Headers.ETag);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/ui/missing.js")]
    [InlineData("/ui/index.html")]
    [InlineData("/ui/")]
    [InlineData("/ui/..%2Fapp.js")]
    [InlineData("/index.html")]
    public async Task An_unknown_file_is_404(string path)
    {
        using var response = await _host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotEqual("text/javascript; charset=utf-8", response.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task An_unknown_file_says_so_in_json()
    {
        using var response = await _host.Client.GetAsync("/ui/missing.js");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" }, response.Content.Headers.ContentType);
        Assert.Contains("missing.js", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_beside_the_page_answers_as_before()
    {
        var list = await _host.Client.GetStringAsync("/runs?limit=5");
        Assert.Contains(_host.Run.RunId.ToString("D"), list, StringComparison.Ordinal);
        using var status = await _host.Client.GetAsync($"/runs/{_host.Run.RunId:D}");
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal("application/json", status.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_page_and_its_files_are_open_but_no_run_data_is_served_without_the_key()
    {
        // The page and its files hold no run data: they load without a key (the page then asks for one).
        foreach (var path in new[] { "/", "/ui/app.js", "/ui/app.css", "/ui/favicon.svg", "/health", "/alive" })
        {
            using var open = await _host.Anonymous.GetAsync(path);
            Assert.True(open.StatusCode == HttpStatusCode.OK, $"{path}: {open.StatusCode}");
        }
        foreach (var path in new[] { "/runs", $"/runs/{_host.Run.RunId:D}", $"/runs/{_host.Run.RunId:D}/artifacts/confusion_matrix.png" })
        {
            using var refused = await _host.Anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer realm=\"cremad-runs\"", refused.Headers.WwwAuthenticate.ToString());
            Assert.DoesNotContain(_host.Run.RunId.ToString("D"), await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_script_never_parses_text_as_html_and_fetches_in_one_place()
    {
        var script = await _host.Client.GetStringAsync("/ui/app.js");

        // Run names, clip keys and error messages come from users and files: they may only ever become text nodes.
        foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function" })
        {
            Assert.DoesNotContain(sink, script, StringComparison.Ordinal);
        }
        // request() is the one place the API key's Authorization header will be added (issue 11).
        Assert.Single(Regex.Matches(script, @"\bfetch\("));
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    [GeneratedRegex(@"(?:href|src)=""(?<path>/ui/[^""?]+)\?v=(?<version>[^""]+)""")]
    private static partial Regex AssetUrl();
}
