using System.Net;
using System.Net.Http.Json;
using System.Text;
using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Testing;

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
}
