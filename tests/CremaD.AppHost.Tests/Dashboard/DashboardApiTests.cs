using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CremaD.Orchestration.Dashboard;
using CremaD.Orchestration.Resources;
using CremaD.Orchestration.Telemetry;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>The dashboard's HTTP surface over real sockets: login, the JSON API, the runs proxy and the listener split.</summary>
public sealed class DashboardApiTests
{
    [Fact]
    public async Task Everything_but_the_login_needs_the_token()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var anonymous = harness.Anonymous;

        var api = await anonymous.GetAsync("/api/resources");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Contains("login", (await api.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
        foreach (var path in new[] { "/api/version", "/api/traces", $"/api/runs/{harness.Run.RunId}", $"/api/runs/{harness.Run.RunId}/artifacts/confusion_matrix.png" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);
        }
        var page = await anonymous.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/login", page.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, (await anonymous.GetAsync("/app.js")).StatusCode);

        var form = await anonymous.GetAsync("/login");
        Assert.Equal(HttpStatusCode.OK, form.StatusCode);
        Assert.Contains("name=\"t\"", await form.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/app.css")).StatusCode);

        var wrong = await anonymous.GetAsync("/login?t=not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("not the one the AppHost printed", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(wrong.Headers.Contains("Set-Cookie"));

        // The login URL the AppHost prints sets an HttpOnly, SameSite=Strict cookie and sends the browser home.
        var login = await anonymous.GetAsync(harness.Server.LoginUrl);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location?.OriginalString);
        var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(harness.Server.BrowserToken, cookie, StringComparison.Ordinal);
        var cookiePair = cookie.Split(';')[0];

        using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/");
        withCookie.Headers.Add("Cookie", cookiePair);
        var home = await anonymous.SendAsync(withCookie);
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Equal("text/html", home.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/app.js", await home.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", home.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using var apiWithCookie = new HttpRequestMessage(HttpMethod.Get, "/api/resources");
        apiWithCookie.Headers.Add("Cookie", cookiePair);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(apiWithCookie)).StatusCode);

        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/resources");
        forged.Headers.Add("Cookie", $"{DashboardAuth.CookieName}={new string('0', 64)}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(forged)).StatusCode);

        using var wrongBearer = new HttpRequestMessage(HttpMethod.Get, "/api/resources");
        wrongBearer.Headers.Authorization = new("Bearer", "nope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrongBearer)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await harness.Authorized.GetAsync("/api/resources")).StatusCode);
    }

    [Fact]
    public async Task Login_url_names_the_dashboard_port_and_the_token()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var server = harness.Server;
        Assert.NotEqual(0, server.DashboardAddress.Port);
        Assert.NotEqual(0, server.OtlpHttpAddress.Port);
        Assert.NotEqual(server.DashboardAddress.Port, server.OtlpHttpAddress.Port);
        Assert.Equal($"http://127.0.0.1:{server.DashboardAddress.Port}/login?t={server.BrowserToken}", server.LoginUrl.AbsoluteUri);
        Assert.Matches("^[0-9a-f]{32}$", server.BrowserToken);
    }

    [Fact]
    public async Task Localhost_binds_the_loopback_addresses_only()
    {
        var ports = CremaD.LocalInfrastructure.FreePorts.Allocate(2);
        await using var server = await DashboardServer.StartAsync(new DashboardServerOptions
        {
            DashboardUrl = $"http://localhost:{ports[0]}",
            OtlpHttpUrl = $"http://localhost:{ports[1]}",
        }, new TestResourceCatalog(), new TraceStore(), CancellationToken.None);
        Assert.Equal($"http://localhost:{ports[0]}/", server.DashboardAddress.AbsoluteUri);
        Assert.Equal($"http://localhost:{ports[1]}/", server.OtlpHttpAddress.AbsoluteUri);
        Assert.StartsWith($"http://localhost:{ports[0]}/login?t=", server.LoginUrl.AbsoluteUri, StringComparison.Ordinal);
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"http://127.0.0.1:{ports[0]}/login")).StatusCode);
        var external = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (external is not null)
        {
            // Reachable on loopback only: another machine (here: this one's LAN address) gets no connection.
            await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync($"http://{external}:{ports[0]}/login"));
        }
    }

    [Theory]
    [InlineData("http://0.0.0.0:18888")]
    [InlineData("http://192.168.1.20:18888")]
    [InlineData("http://example.org:18888")]
    [InlineData("https://localhost:18888")]
    [InlineData("localhost:18888")]
    public async Task Refuses_addresses_that_are_not_loopback_http(string url)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => DashboardServer.StartAsync(
            new DashboardServerOptions { DashboardUrl = url, OtlpHttpUrl = "http://127.0.0.1:0" }, new TestResourceCatalog(), new TraceStore(), CancellationToken.None));
        Assert.Contains(url, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_port_is_reported_with_the_address()
    {
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var error = await Assert.ThrowsAsync<IOException>(() => DashboardServer.StartAsync(
            new DashboardServerOptions { DashboardUrl = $"http://127.0.0.1:{port}", OtlpHttpUrl = "http://127.0.0.1:0" },
            new TestResourceCatalog(), new TraceStore(), CancellationToken.None));
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_listener_serves_only_its_own_routes()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var otlp = new HttpClient { BaseAddress = harness.Server.OtlpHttpAddress };
        otlp.DefaultRequestHeaders.Authorization = new("Bearer", harness.Server.BrowserToken);
        Assert.Equal(HttpStatusCode.NotFound, (await otlp.GetAsync("/api/resources")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await otlp.GetAsync("/login")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await otlp.GetAsync("/")).StatusCode);

        using var protobuf = new ByteArrayContent([]);
        protobuf.Headers.ContentType = new("application/x-protobuf");
        Assert.Equal(HttpStatusCode.NotFound, (await harness.Authorized.PostAsync("/v1/traces", protobuf)).StatusCode);
        // On its own port the receiver answers (an empty export is a valid, empty request) and checks its API key.
        using var empty = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new ByteArrayContent([]) };
        empty.Content.Headers.ContentType = new("application/x-protobuf");
        empty.Headers.Add("x-otlp-api-key", DashboardHarness.OtlpApiKey);
        Assert.Equal(HttpStatusCode.OK, (await otlp.SendAsync(empty)).StatusCode);
        using var keyless = new ByteArrayContent([]);
        keyless.Headers.ContentType = new("application/x-protobuf");
        Assert.Equal(HttpStatusCode.Unauthorized, (await otlp.PostAsync("/v1/traces", keyless)).StatusCode);
    }

    [Fact]
    public async Task Lists_resources_with_their_state_and_process_details()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var body = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/resources");
        var resources = body.GetProperty("resources").EnumerateArray().ToList();
        Assert.Equal(["messaging", "blobs", "runs-api", "feature-service", "trainer-service", "evaluation-service"],
            resources.Select(r => r.GetProperty("name").GetString()));
        var trainer = resources.Single(r => r.GetProperty("name").GetString() == "trainer-service");
        Assert.Equal("project", trainer.GetProperty("kind").GetString());
        Assert.Equal("running", trainer.GetProperty("state").GetString());
        Assert.Equal("healthy", trainer.GetProperty("health").GetString());
        Assert.Equal(41107, trainer.GetProperty("processId").GetInt32());
        Assert.Equal(1, trainer.GetProperty("restarts").GetInt32());
        Assert.Equal(137, trainer.GetProperty("lastExitCode").GetInt32());
        Assert.Equal("http://localhost:5182", trainer.GetProperty("endpoints")[0].GetString());
        var evaluation = resources.Single(r => r.GetProperty("name").GetString() == "evaluation-service");
        Assert.Equal("restarting", evaluation.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, evaluation.GetProperty("processId").ValueKind);

        // /api/version changes when a resource does, so the page knows to refresh.
        var before = (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/version")).GetProperty("resources").GetString();
        Assert.Equal(before, (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/version")).GetProperty("resources").GetString());
        var snapshot = harness.Resources.Snapshot().Single(r => r.Name == "evaluation-service");
        harness.Resources.Set(snapshot with { State = ResourceState.Running, Health = ResourceHealth.Healthy, ProcessId = 42000, Restarts = 3 });
        var after = (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/version")).GetProperty("resources").GetString();
        Assert.NotEqual(before, after);
    }

    [Fact]
    public async Task Pages_through_console_logs_and_follows_new_lines()
    {
        await using var harness = await DashboardHarness.StartAsync();
        for (var i = 1; i <= 30; i++) harness.Resources.Log("feature-service", LogStream.StdOut, $"line {i}");
        harness.Resources.Log("feature-service", LogStream.StdErr, "warn: clip 1003_IEO_SAD_LO.wav rejected");
        // The demo catalog wrote 2 lines before these: 33 in all.

        var first = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/resources/feature-service/logs?after=0&max=10");
        var lines = first.GetProperty("lines").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), lines.Select(l => l.GetProperty("sequence").GetInt64()));
        Assert.Equal("system", lines[0].GetProperty("stream").GetString());
        Assert.Equal("line 1", lines[2].GetProperty("text").GetString());
        Assert.Equal(10, first.GetProperty("last").GetInt64());

        var rest = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/resources/feature-service/logs?after=10");
        var restLines = rest.GetProperty("lines").EnumerateArray().ToList();
        Assert.Equal(23, restLines.Count);
        Assert.Equal(11, restLines[0].GetProperty("sequence").GetInt64());
        Assert.Equal("stdErr", restLines[^1].GetProperty("stream").GetString());
        Assert.Equal(33, rest.GetProperty("last").GetInt64());

        var idle = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/resources/feature-service/logs?after=33");
        Assert.Empty(idle.GetProperty("lines").EnumerateArray());
        Assert.Equal(33, idle.GetProperty("last").GetInt64());

        harness.Resources.Log("feature-service", LogStream.StdOut, "shard 0 done");
        var live = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/resources/feature-service/logs?after=33");
        Assert.Equal("shard 0 done", Assert.Single(live.GetProperty("lines").EnumerateArray()).GetProperty("text").GetString());

        var missing = await harness.Authorized.GetAsync("/api/resources/no-such-thing/logs");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no-such-thing", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shows_traces_received_over_otlp_as_a_list_and_a_waterfall()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var versionBefore = (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/version")).GetProperty("traces").GetInt64();
        var traceId = await harness.ExportStageSpansAsync();
        var version = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/version");
        Assert.NotEqual(versionBefore, version.GetProperty("traces").GetInt64());
        Assert.Equal(harness.Traces.SpanCount, version.GetProperty("spans").GetInt32());

        var all = (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/traces")).GetProperty("traces").EnumerateArray().ToList();
        Assert.Equal(2, all.Count);
        var runId = harness.Run.RunId.ToString("D");
        var ofRun = (await harness.Authorized.GetFromJsonAsync<JsonElement>($"/api/traces?runId={runId}")).GetProperty("traces").EnumerateArray().ToList();
        var summary = Assert.Single(ofRun);
        Assert.Equal(traceId, summary.GetProperty("traceId").GetString());
        Assert.Equal("POST /runs", summary.GetProperty("rootName").GetString());
        Assert.Equal(runId, summary.GetProperty("runId").GetString());
        Assert.Equal(StageSpans.Services, summary.GetProperty("services").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(0, summary.GetProperty("errorCount").GetInt32());
        var expectedDuration = (harness.Run.Status.Timestamps.EvaluationCompletedAt!.Value - harness.Run.SubmittedAt.AddMilliseconds(-40)).TotalMilliseconds;
        Assert.Equal(expectedDuration, summary.GetProperty("durationMs").GetDouble(), 1.0);

        var failed = (await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/traces?service=evaluation-service")).GetProperty("traces").EnumerateArray()
            .Single(t => t.GetProperty("traceId").GetString() != traceId);
        Assert.Equal(2, failed.GetProperty("errorCount").GetInt32());
        Assert.Empty((await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/traces?service=nobody")).GetProperty("traces").EnumerateArray());

        var waterfall = await harness.Authorized.GetFromJsonAsync<JsonElement>($"/api/traces/{traceId.ToUpperInvariant()}");
        var spans = waterfall.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(6 + 3 + DemoRun.Epochs + 3, spans.Count);
        Assert.Equal(("POST /runs", 0), (spans[0].GetProperty("name").GetString(), spans[0].GetProperty("depth").GetInt32()));
        Assert.Equal(0, spans[0].GetProperty("offsetMs").GetDouble());
        // Tree order: each span right after its parent's earlier children, at its parent's depth + 1.
        var depthOf = new Dictionary<string, int>();
        foreach (var span in spans)
        {
            var parent = span.GetProperty("parentSpanId").GetString();
            var depth = span.GetProperty("depth").GetInt32();
            if (parent is not null) Assert.Equal(depthOf[parent] + 1, depth);
            depthOf[span.GetProperty("spanId").GetString()!] = depth;
        }
        var names = spans.Select(s => s.GetProperty("name").GetString()).ToList();
        foreach (var stage in StageSpans.StageSpanNames) Assert.Contains(stage, names);
        var train = spans.Single(s => s.GetProperty("name").GetString() == "train model");
        Assert.Equal("trainer-service", train.GetProperty("service").GetString());
        Assert.Equal(2, train.GetProperty("depth").GetInt32());
        Assert.Equal(runId, train.GetProperty("attributes").GetProperty("cremad.run_id").GetString());
        Assert.Equal((harness.Run.Status.Timestamps.TrainingCompletedAt!.Value - harness.Run.Status.Timestamps.TrainingStartedAt!.Value).TotalMilliseconds,
            train.GetProperty("durationMs").GetDouble(), 1.0);
        var epochs = spans.Where(s => s.GetProperty("name").GetString() == "epoch").ToList();
        Assert.Equal(Enumerable.Range(1, DemoRun.Epochs).Select(e => e.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            epochs.Select(e => e.GetProperty("attributes").GetProperty("cremad.epoch").GetString()));
        var shard = spans.Single(s => s.GetProperty("name").GetString() == "feature shard");
        Assert.Equal("clip rejected", shard.GetProperty("events")[0].GetProperty("name").GetString());

        var missing = await harness.Authorized.GetAsync($"/api/traces/{new string('a', 32)}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Proxies_the_runs_api_once_it_is_up()
    {
        await using var harness = await DashboardHarness.StartAsync(connectRunsApi: false);
        var runId = harness.Run.RunId;

        var early = await harness.Authorized.GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
        Assert.Contains("runs API is not running yet", (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        harness.ConnectRunsApi();
        var list = await harness.Authorized.GetFromJsonAsync<JsonElement>("/api/runs");
        Assert.Equal(runId.ToString("D"), Assert.Single(list.EnumerateArray()).GetProperty("runId").GetString());

        var response = await harness.Authorized.GetAsync($"/api/runs/{runId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        // Passed through untouched: exactly what the runs API said.
        Assert.Equal(harness.Run.Json, await response.Content.ReadAsStringAsync());
        var run = JsonDocument.Parse(harness.Run.Json).RootElement;
        Assert.Equal("completed", run.GetProperty("stage").GetString());
        Assert.Equal(DemoRun.Epochs, run.GetProperty("training").GetProperty("history").GetArrayLength());

        var png = await harness.Authorized.GetAsync($"/api/runs/{runId}/artifacts/confusion_matrix.png");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(harness.Run.ArtifactsDirectory, "confusion_matrix.png")), await png.Content.ReadAsByteArrayAsync());
        var report = await harness.Authorized.GetFromJsonAsync<JsonElement>($"/api/runs/{runId}/artifacts/classification_report.json");
        Assert.True(report.TryGetProperty("macro avg", out _));

        var noArtifact = await harness.Authorized.GetAsync($"/api/runs/{runId}/artifacts/model.bin");
        Assert.Equal(HttpStatusCode.NotFound, noArtifact.StatusCode);
        Assert.Contains("model.bin", (await noArtifact.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await harness.Authorized.GetAsync($"/api/runs/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await harness.Authorized.GetAsync("/api/runs/not-a-guid")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await harness.Authorized.GetAsync($"/api/runs/{runId}/artifacts/models%5Cbest.bin")).StatusCode);
        Assert.Contains($"GET /runs/{runId:D}/artifacts/confusion_matrix.png", harness.RunsApi.Requests);

        // The runs API went away (restarting): a clear 503, not a hang or a 500.
        var closedPort = CremaD.LocalInfrastructure.FreePorts.AllocateOne();
        harness.ConnectRunsApi(new Uri($"http://127.0.0.1:{closedPort}"));
        var down = await harness.Authorized.GetAsync($"/api/runs/{runId}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Contains("not answering", (await down.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serves_static_files_with_etags()
    {
        await using var harness = await DashboardHarness.StartAsync();
        var script = await harness.Authorized.GetAsync("/app.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var etag = script.Headers.ETag;
        Assert.NotNull(etag);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/app.js");
        again.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.NotModified, (await harness.Authorized.SendAsync(again)).StatusCode);
        Assert.Equal("image/svg+xml", (await harness.Anonymous.GetAsync("/favicon.svg")).Content.Headers.ContentType?.MediaType);
    }
}
