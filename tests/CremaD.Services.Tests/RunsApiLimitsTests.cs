using System.Net;
using System.Net.Http.Json;
using System.Text;
using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace CremaD.Services.Tests;

/// <summary>
/// Everything a client of the runs API controls has a limit, and a request past one is refused with a ProblemDetails
/// body that names the field and the limit; nothing refused reaches the broker or storage.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RunsApiLimitsTests(RabbitMqFixture rabbit, AzuriteFixture azurite)
{
    private static async Task<(HttpStatusCode Status, string? MediaType, string Body)> PostAsync(HttpClient api, object body)
    {
        using var response = await api.PostAsJsonAsync("/runs", body, ServiceJson.Options);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Out_of_bounds_submissions_are_refused_naming_the_field_and_the_limit()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api");
        var api = cluster.RunsApi;

        // A body past the limit: refused before it is read.
        using (var huge = new StringContent("{\"dataset\":\"demo\",\"name\":\"" + new string('x', RunsApi.MaxRequestBodyBytes) + "\"}",
                   Encoding.UTF8, "application/json"))
        using (var response = await api.PostAsync("/runs", huge))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"at most {RunsApi.MaxRequestBodyBytes:N0}", await response.Content.ReadAsStringAsync());
        }

        var cases = new (SubmitRunRequest Request, string Expected)[]
        {
            (new("demo", null, new string('n', 10_000)), $"name must be at most {SubmitRun.MaxNameLength} characters, got 10000"),
            (new("demo", null, "tab\there"), "name must not contain control characters"),
            (new("runs/"), "must be a name or a folder under datasets/"),
            (new("features/abc/recipe-1/"), "must be a name or a folder under datasets/"),
            (new("datasets/"), "must be a name or a folder under datasets/"),
            (new("datasets/../runs/"), "'..'"),
            (new("demo", new RunConfig { Epochs = 1_000_000 }), $"epochs must be at most {RunConfig.MaxEpochs}, got 1000000"),
            (new("demo", new RunConfig { HiddenSize = 100_000 }), $"hidden_size must be at most {RunConfig.MaxHiddenSize}"),
            (new("demo", new RunConfig { NumLayers = 100 }), $"num_layers must be at most {RunConfig.MaxNumLayers}"),
            (new("demo", new RunConfig { BatchSize = 1_000_000 }), $"batch_size must be at most {RunConfig.MaxBatchSize}"),
            (new("demo", new RunConfig { Patience = 1_000_000 }), $"patience must be at most {RunConfig.MaxPatience}"),
            (new("demo", new RunConfig { ShardSize = 1_000_000 }), $"shard_size must be at most {RunConfig.MaxShardSize}"),
            (new("demo", new RunConfig { LearningRate = double.NaN }), "learning_rate must be a positive number"),
        };
        foreach (var (request, expected) in cases)
        {
            var (status, mediaType, body) = await PostAsync(api, request);
            Assert.True(status == HttpStatusCode.BadRequest, $"{expected}: {status} {body}");
            Assert.Equal("application/problem+json", mediaType);
            Assert.Contains(expected, body);
        }

        // Nothing refused became a run.
        Assert.Empty(await cluster.States.ListAsync());
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Runs_are_listed_in_pages_and_artefact_names_cannot_leave_the_runs_folder()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api");
        var api = cluster.RunsApi;
        // Five runs of a dataset that does not exist: each fails at once, which is all a listing needs.
        var submitted = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            submitted.Add(await cluster.SubmitAsync("absent", EndToEndTests.TinyConfig, $"run {i}"));
            await Task.Delay(20); // distinct submission times, so newest-first is well defined
        }
        foreach (var id in submitted) await cluster.WaitForAsync(id, s => s.Stage.IsTerminal(), "the run to fail");

        using var first = await api.GetAsync("/runs?limit=2");
        var page1 = (await first.Content.ReadFromJsonAsync<List<RunStatus>>(ServiceJson.Options))!;
        var next = first.Headers.GetValues("Link").Single();
        Assert.Equal([submitted[4], submitted[3]], page1.Select(r => r.RunId));
        Assert.Equal($"</runs?limit=2&after={submitted[3]:D}>; rel=\"next\"", next);
        var page2 = (await api.GetFromJsonAsync<List<RunStatus>>($"/runs?limit=2&after={submitted[3]:D}", ServiceJson.Options))!;
        Assert.Equal([submitted[2], submitted[1]], page2.Select(r => r.RunId));
        using var last = await api.GetAsync($"/runs?limit=2&after={submitted[1]:D}");
        Assert.Equal([submitted[0]], (await last.Content.ReadFromJsonAsync<List<RunStatus>>(ServiceJson.Options))!.Select(r => r.RunId));
        Assert.False(last.Headers.Contains("Link"));
        Assert.Equal(5, (await api.GetFromJsonAsync<List<RunStatus>>("/runs", ServiceJson.Options))!.Count); // default page: 50

        using var tooMany = await api.GetAsync($"/runs?limit={RunsApi.MaxPageSize + 1}");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains($"limit must be in [1, {RunsApi.MaxPageSize}]", await tooMany.Content.ReadAsStringAsync());

        // A name that climbs out, raw or escaped, never reaches storage as a key outside runs/<id>/artifacts/.
        await cluster.Blobs.WriteTextAsync("datasets/secret.txt", "secret content 7f3a");
        foreach (var name in new[] { "..%2F..%2F..%2Fdatasets%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "a%2Fb.json", "..\\secret.txt", "..%5Csecret.txt" })
        {
            using var response = await api.GetAsync($"/runs/{submitted[0]:D}/artifacts/{name}");
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{name}: {response.StatusCode}");
            Assert.DoesNotContain("secret content 7f3a", await response.Content.ReadAsStringAsync());
        }
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Every_endpoint_refuses_a_caller_without_the_key_or_with_a_wrong_one()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api");
        var runId = await cluster.SubmitAsync("absent", EndToEndTests.TinyConfig, "the one run");
        await cluster.WaitForAsync(runId, s => s.Stage.IsTerminal(), "the run to fail");
        using var anonymous = new HttpClient { BaseAddress = cluster.RunsApi.BaseAddress };
        var requests = new Func<HttpRequestMessage>[]
        {
            () => new(HttpMethod.Post, "/runs") { Content = JsonContent.Create(new SubmitRunRequest("demo"), options: ServiceJson.Options) },
            () => new(HttpMethod.Get, "/runs"),
            () => new(HttpMethod.Get, "/runs?limit=1"),
            () => new(HttpMethod.Get, $"/runs/{runId:D}"),
            () => new(HttpMethod.Post, $"/runs/{runId:D}/cancel"),
            () => new(HttpMethod.Get, $"/runs/{runId:D}/artifacts/test_metrics.json"),
            // Oversized, and without a key: the key is checked first, so a stranger learns not even the limit.
            () => new(HttpMethod.Post, "/runs") { Content = new StringContent(new string('x', RunsApi.MaxRequestBodyBytes + 1), Encoding.UTF8, "application/json") },
        };
        var authorizations = new (string What, string? Header)[]
        {
            ("no Authorization header", null),
            ("a wrong key", "Bearer " + new string('k', 48)),
            ("the right key in the wrong scheme", "Basic " + TestCluster.ApiKey),
            ("a prefix of the right key", "Bearer " + TestCluster.ApiKey[..^1]),
            ("the right key and more", "Bearer " + TestCluster.ApiKey + "x"),
            ("a key longer than any key", "Bearer " + new string('k', 5_000)),
        };
        var refused = 0;
        foreach (var (what, header) in authorizations)
        {
            foreach (var make in requests)
            {
                using var request = make();
                if (header is not null) request.Headers.TryAddWithoutValidation("Authorization", header);
                using var response = await anonymous.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{request.Method} {request.RequestUri} with {what}: {response.StatusCode} {body}");
                Assert.Equal("Bearer realm=\"cremad-runs\"", response.Headers.WwwAuthenticate.ToString());
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.DoesNotContain(runId.ToString("D"), body, StringComparison.Ordinal);
                refused++;
            }
        }
        Assert.Equal(authorizations.Length * requests.Length, refused);
        // A header past the server's limit (32 KiB) is refused before anything else looks at it.
        using (var huge = new HttpRequestMessage(HttpMethod.Get, "/runs"))
        {
            huge.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('k', 100_000));
            using var response = await anonymous.SendAsync(huge);
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        }
        // Nothing a refused caller sent became a run, and the run was not cancelled by one.
        Assert.Equal([runId], (await cluster.States.ListAsync()).Select(r => r.RunId));
        Assert.Equal(RunStage.Failed, (await cluster.States.GetAsync(runId))!.Stage);
        // A Host header the API does not answer to is refused too (the health probes excepted).
        using var foreignHost = new HttpRequestMessage(HttpMethod.Get, "/runs");
        foreignHost.Headers.Host = "evil.example";
        using (var response = await cluster.RunsApi.SendAsync(foreignHost)) Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var probe = new HttpRequestMessage(HttpMethod.Get, "/health");
        probe.Headers.Host = "10.1.2.3:8080";
        using (var response = await anonymous.SendAsync(probe)) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task Each_submitter_may_have_a_limited_number_of_runs_in_flight()
    {
        const string OtherKey = "team-b-key-0123456789abcdefghijklmnopqrstu";
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", builder =>
        {
            builder.Configuration["RunsApi:MaxRunsInFlightPerSubmitter"] = "3";
            builder.Configuration["RunsApi:Keys:team-b"] = OtherKey;
        });
        // No feature service: the runs stay in flight (planned, their shards queued).
        await cluster.UploadDatasetAsync("waiting", brokenClip: false);
        var accepted = new List<Guid>();
        for (var i = 0; i < 3; i++) accepted.Add(await cluster.SubmitAsync("waiting", EndToEndTests.TinyConfig, $"run {i}"));

        var (status, mediaType, body) = await PostAsync(cluster.RunsApi, new SubmitRunRequest("waiting", EndToEndTests.TinyConfig));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("application/problem+json", mediaType);
        Assert.Contains("at most 3 may be in flight", body);
        Assert.Contains("\"field\":\"submitter\"", body);

        // Another submitter has a cap of its own.
        using var teamB = new HttpClient { BaseAddress = cluster.RunsApi.BaseAddress };
        teamB.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", OtherKey);
        var (otherStatus, _, otherBody) = await PostAsync(teamB, new SubmitRunRequest("waiting", EndToEndTests.TinyConfig));
        Assert.True(otherStatus == HttpStatusCode.Accepted, otherBody);
        var teamBRun = (await cluster.States.ListAsync()).Single(r => !accepted.Contains(r.RunId));
        Assert.Equal("team-b", teamBRun.Submitter);
        Assert.All(accepted, id => Assert.Equal("default", cluster.States.GetAsync(id).Result!.Submitter));

        // A run that finishes leaves room for the next.
        using (var cancel = await cluster.RunsApi.PostAsync($"/runs/{accepted[0]:D}/cancel", null)) Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        await cluster.WaitForAsync(accepted[0], s => s.Stage.IsTerminal(), "the cancelled run");
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(cluster.RunsApi, new SubmitRunRequest("waiting", EndToEndTests.TinyConfig))).Status);
        Assert.Equal(4, (await cluster.States.ListInFlightAsync(null)).Count);
    }

    [Fact]
    public async Task The_runs_api_does_not_start_without_a_key_or_with_a_weak_one()
    {
        foreach (var (key, expected) in new[] { ((string?)null, "has no API key"), ("short-key", "is unfit") })
        {
            using var temp = new TempDirectory();
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Messaging:Transport"] = "InMemory",
                ["ConnectionStrings:blobs"] = temp.Sub("blobs"),
                [ServiceWorkOptions.ConfigurationKey] = temp.Sub("work"),
                ["RunsApi:ApiKey"] = key,
            });
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.AddCremaDRunsApi();
            await using var app = builder.Build();
            app.MapCremaDRunsApi();
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync());
            Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        }
    }
}
