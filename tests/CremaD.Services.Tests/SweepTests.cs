using System.Net;
using System.Net.Http.Json;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Storage;
using CremaD.Testing;
using RunStage = CremaD.Contracts.RunStage;

namespace CremaD.Services.Tests;

/// <summary>
/// A cross-validation sweep through the runs API on a real RabbitMQ and a real Azurite: one run per speaker-independent
/// fold, two trainer replicas, the folds' statistics and the merged model card.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class SweepTests(RabbitMqFixture rabbit, AzuriteFixture azurite)
{
    [RequiresInfrastructureFact(Infrastructure.RabbitMq | Infrastructure.Azurite)]
    public async Task A_sweep_tests_every_speaker_once_one_run_per_fold_and_merges_the_folds_model_cards()
    {
        await using var cluster = new ServiceCluster(rabbit, azurite);
        await cluster.StartAsync("runs-api", "features-1", "trainer-1", "trainer-2", "evaluation");
        var clips = await cluster.UploadDemoSubsetAsync("sweep", 24, 12, 12);
        var actors = clips.Select(c => CremaDFileName.ActorOf(c)!).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(actors.Count >= 3, $"the subset has {actors.Count} actors");

        // No sweep without the API key, and a sweep's fold count is bounded.
        using (var anonymous = new HttpClient { BaseAddress = cluster.RunsApi.BaseAddress })
        using (var refused = await anonymous.PostAsJsonAsync("/sweeps", new SubmitSweepRequest("sweep", 3), ServiceJson.Options))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        using (var tooMany = await cluster.RunsApi.PostAsJsonAsync("/sweeps", new SubmitSweepRequest("sweep", 31), ServiceJson.Options))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
            Assert.Contains("folds must be in 3..30", await tooMany.Content.ReadAsStringAsync());
        }

        using var response = await cluster.RunsApi.PostAsJsonAsync("/sweeps",
            new SubmitSweepRequest("sweep", 3, EndToEndTests.TinyConfig with { UseClassWeights = false }, "cv test"), ServiceJson.Options);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var submitted = (await response.Content.ReadFromJsonAsync<SubmitSweepResponse>(ServiceJson.Options))!;
        Assert.Equal(3, submitted.RunIds.Count);
        using (var early = await cluster.RunsApi.GetAsync($"/sweeps/{submitted.SweepId:D}/model_card.json"))
        {
            Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        }

        var status = await Eventually.WaitAsync(() => cluster.RunsApi.GetFromJsonAsync<SweepStatus>($"/sweeps/{submitted.SweepId:D}", ServiceJson.Options),
            s => s!.FoldRuns.All(f => f.Stage.IsTerminal()), TimeSpan.FromMinutes(8), "every fold of the sweep");
        Assert.True(status!.Stage == RunStage.Completed, string.Join("\n", await Task.WhenAll(status.FoldRuns.Select(async f =>
            cluster.Describe((await cluster.States.GetAsync(f.RunId))!)))));
        Assert.Equal(3, status.CompletedFolds);
        // Each fold names the replica that trained it (which one is the competing consumers' business).
        Assert.All(status.FoldRuns, f => Assert.Matches(@"^trainer-[12] \(.+, pid \d+\)$", f.Worker));
        Assert.Equal(status.FoldRuns.Average(f => f.Accuracy!.Value), status.AccuracyMean!.Value, 9);
        Assert.Equal(status.FoldRuns.Average(f => f.MacroF1!.Value), status.MacroF1Mean!.Value, 9);

        // Each fold is a run of its own on the fold's partitions: its test speakers are nobody else's, and together they are everyone.
        var tested = new List<string>();
        for (var k = 0; k < 3; k++)
        {
            var run = (await cluster.States.GetAsync(submitted.RunIds[k]))!;
            Assert.Equal(new FoldRef(k + 1, 3, 42), run.Dataset.Fold);
            Assert.Equal("cv test (fold " + (k + 1) + " of 3)", run.Name);
            var predictions = await cluster.Blobs.ReadTextAsync(BlobLayout.ArtifactsPrefix(run.RunId) + "test_predictions.csv");
            var foldActors = PredictionsFile.Read(predictions, "fold", Emotions.Names).Select(p => p.Actor).Distinct().ToList();
            Assert.Empty(foldActors.Intersect(tested));
            tested.AddRange(foldActors);
        }
        Assert.Equal(actors, tested.Order(StringComparer.Ordinal));

        // The merged model card covers every clip once.
        var card = ModelCard.FromJson(await cluster.RunsApi.GetStringAsync($"/sweeps/{submitted.SweepId:D}/model_card.json"));
        Assert.Equal(clips.Count, card.Clips);
        Assert.Equal(actors.Count, card.Actors);
        Assert.Contains("all 3 folds' test speakers", card.Subject.Partition, StringComparison.Ordinal);
        Assert.Contains("# Model card", await cluster.RunsApi.GetStringAsync($"/sweeps/{submitted.SweepId:D}/model_card.md"), StringComparison.Ordinal);
        using (var png = await cluster.RunsApi.GetAsync($"/sweeps/{submitted.SweepId:D}/model_card.png"))
        {
            Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        }
        var listed = await cluster.RunsApi.GetFromJsonAsync<List<SweepStatus>>("/sweeps", ServiceJson.Options);
        Assert.Equal((submitted.SweepId, RunStage.Completed), (listed![0].SweepId, listed[0].Stage));
        using var missing = await cluster.RunsApi.GetAsync($"/sweeps/{Guid.NewGuid():D}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
