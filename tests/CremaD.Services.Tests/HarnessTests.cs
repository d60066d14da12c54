using CremaD.Audio;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.FeatureExtraction;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CremaD.Services.Tests;

/// <summary>
/// The coordinator and the feature consumer on MassTransit's in-memory test harness, over a local-folder blob store and
/// real audio from samples/demo: the plan → shards → normalisation → TrainModel flow, reuse of a feature store, and the
/// failure paths (bad clip, malformed command, missing dataset).
/// </summary>
public sealed class HarnessTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private LocalFolderBlobStore _blobs = null!;
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private RunStateStore _states = null!;

    public async Task InitializeAsync()
    {
        _blobs = new LocalFolderBlobStore(_temp.Sub("blobs"));
        _states = new RunStateStore(_blobs);
        _provider = new ServiceCollection()
            .AddLogging()
            .AddSingleton<IBlobStore>(_blobs)
            .AddSingleton(_states)
            .AddSingleton(new ServiceWorkOptions(_temp.Sub("work")))
            .AddSingleton<RunCoordinator>()
            .AddSingleton(new FeatureShardProcessor(_blobs))
            .AddMassTransitTestHarness(bus =>
            {
                bus.SetKebabCaseEndpointNameFormatter();
                bus.AddRunCoordinatorConsumers();
                bus.AddConsumer<ExtractFeatureShardConsumer>();
            })
            .BuildServiceProvider(validateScopes: true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.TestTimeout = TimeSpan.FromSeconds(60);
        // Sent.Any/Published.Any wait for a match only until the bus has been idle this long. The coordinator's step
        // between two messages (blob reads and writes) can exceed the default on a loaded machine (seen in CI), so a
        // message still on its way would be reported missing.
        _harness.TestInactivityTimeout = TimeSpan.FromSeconds(10);
        await _harness.Start();
    }

    public async Task DisposeAsync()
    {
        await _harness.Stop();
        await _provider.DisposeAsync();
        _temp.Dispose();
    }

    private string UploadDataset(string name, int train, int validation, int test, bool brokenClip = false)
    {
        TestDatasets.WriteDemoSubset(Path.Combine(_blobs.RootDirectory, "datasets", name), train, validation, test, brokenClip);
        return $"datasets/{name}/";
    }

    private async Task<SubmitRun> SubmitAsync(string datasetPrefix, int shardSize)
    {
        var command = new SubmitRun(Guid.NewGuid(), new DatasetRef(datasetPrefix), new RunConfig { ShardSize = shardSize, Epochs = 2 },
            DateTimeOffset.UtcNow, "harness");
        var endpoint = await _harness.Bus.GetSendEndpoint(new Uri($"queue:{QueueNames.SubmitRun}"));
        await endpoint.Send(command);
        return command;
    }

    private Task<RunStatus> WaitForStatusAsync(Guid runId, Func<RunStatus, bool> done, string what) =>
        Eventually.WaitAsync(() => _states.GetAsync(runId), done, TimeSpan.FromSeconds(60), what);

    [Fact]
    public async Task Shards_are_extracted_reduced_into_the_local_stage_normalisation_and_the_run_is_sent_to_training()
    {
        var prefix = UploadDataset("small", train: 6, validation: 3, test: 3, brokenClip: true);
        var submit = await SubmitAsync(prefix, shardSize: 4);

        var status = await WaitForStatusAsync(submit.RunId, s => s.Features.Ready || s.Stage.IsTerminal(), "features ready");
        Assert.Equal(RunStage.Training, status.Stage);
        Assert.Equal(4, status.Features.ShardCount); // 13 clips in shards of 4
        Assert.Equal([0, 1, 2, 3], status.Features.CompletedShards);
        Assert.Equal(12, status.Features.ClipsExtracted);
        var rejected = Assert.Single(status.RejectedClips);
        Assert.Equal(prefix + "train/1001_DFA_ANG_XX.wav", rejected.Key);
        Assert.Equal(RejectionStage.Audio, rejected.Stage);
        Assert.Contains("RIFF", rejected.Reason);

        Assert.True(await _harness.Sent.Any<TrainModel>(m => m.Context.Message.RunId == submit.RunId));
        var train = _harness.Sent.Select<TrainModel>(m => m.Context.Message.RunId == submit.RunId).First().Context.Message;
        Assert.Equal(status.Features.FeatureStorePrefix, train.FeatureStorePrefix);
        Assert.Equal(BlobLayout.RunPrefix(submit.RunId), train.OutputPrefix);
        Assert.Equal(2, train.Config.Epochs);

        // The distributed reduction gives the local feature stage's normalisation, and the staged store opens as a local store.
        var local = _temp.Sub("local-features");
        var dataset = DatasetReader.Open(Path.Combine(_blobs.RootDirectory, "datasets", "small"));
        await FeatureStage.RunAsync(dataset, local, new FeatureStageOptions { NumWorkers = 1 });
        var expected = FeatureStore.Open(local);
        var staged = await BlobFeatureStore.StageAsync(_blobs, train.FeatureStorePrefix, Path.Combine(_temp.Path, "staged"));
        Assert.Equal(expected.Normalisation.Frames, staged.Normalisation.Frames);
        for (var band = 0; band < FeatureRecipe.MelBands; band++)
        {
            Assert.Equal(expected.Normalisation.Mean[band], staged.Normalisation.Mean[band], 1e-4f);
            Assert.Equal(expected.Normalisation.Std[band], staged.Normalisation.Std[band], 1e-4f);
        }
        Assert.Equal(expected.Clips.Select(c => (c.Id, c.Partition, c.Frames)), staged.Clips.Select(c => (c.Id, c.Partition, c.Frames)));
        var expectedClip = expected.Load(expected.Clips[5]);
        var stagedClip = staged.Load(staged.Clips[5]);
        Assert.Equal(expectedClip.Data, stagedClip.Data);
        Assert.Single(staged.Rejected);
    }

    [Fact]
    public async Task A_second_run_on_the_same_data_reuses_the_feature_store_and_reports_its_bad_files()
    {
        var prefix = UploadDataset("reuse", train: 4, validation: 2, test: 2, brokenClip: true);
        var first = await SubmitAsync(prefix, shardSize: 3);
        var firstStatus = await WaitForStatusAsync(first.RunId, s => s.Features.Ready, "first run's features");
        var shardsSent = _harness.Sent.Select<ExtractFeatureShard>().Count();

        var second = await SubmitAsync(prefix, shardSize: 3);
        var secondStatus = await WaitForStatusAsync(second.RunId, s => s.Features.Ready, "second run's features");

        Assert.True(secondStatus.Features.Reused);
        Assert.Equal(0, secondStatus.Features.ShardCount);
        Assert.Equal(firstStatus.Features.FeatureStorePrefix, secondStatus.Features.FeatureStorePrefix);
        Assert.Equal(8, secondStatus.Features.ClipsExtracted);
        // The broken clip was rejected by the first run's shards; the second run never decoded it, yet reports it too.
        var rejected = Assert.Single(firstStatus.RejectedClips);
        Assert.Equal(RejectionStage.Audio, rejected.Stage);
        Assert.Equal([rejected], secondStatus.RejectedClips);
        Assert.Equal((1, 1), (firstStatus.Features.ClipsRejected, secondStatus.Features.ClipsRejected));
        Assert.True(await _harness.Sent.Any<TrainModel>(m => m.Context.Message.RunId == second.RunId));
        Assert.Equal(shardsSent, _harness.Sent.Select<ExtractFeatureShard>().Count());
    }

    [Fact]
    public async Task A_malformed_command_faults_and_fails_its_run_with_the_reason()
    {
        var prefix = UploadDataset("malformed", train: 2, validation: 1, test: 1);
        var submit = await SubmitAsync(prefix, shardSize: 8);
        await WaitForStatusAsync(submit.RunId, s => s.Features.Ready, "features ready");

        // Valid in shape, but for a feature recipe this service does not make: it can never be processed.
        var shard = _harness.Sent.Select<ExtractFeatureShard>(m => m.Context.Message.RunId == submit.RunId).First().Context.Message;
        var otherRun = new SubmitRun(Guid.NewGuid(), new DatasetRef(prefix), new RunConfig(), DateTimeOffset.UtcNow);
        await _states.UpdateAsync(otherRun.RunId, _ => RunStateStore.Pending(otherRun));
        var endpoint = await _harness.Bus.GetSendEndpoint(new Uri($"queue:{QueueNames.ExtractFeatureShard}"));
        await endpoint.Send(shard with { RunId = otherRun.RunId, RecipeVersion = FeatureRecipe.Version + 1 });

        Assert.True(await _harness.Published.Any<Fault<ExtractFeatureShard>>(f => f.Context.Message.Message.RunId == otherRun.RunId));
        var failed = await WaitForStatusAsync(otherRun.RunId, s => s.Stage.IsTerminal(), "the run to fail");
        Assert.Equal(RunStage.Failed, failed.Stage);
        var error = Assert.Single(failed.Errors);
        Assert.Equal(RunStage.Features, error.Stage);
        Assert.Contains("recipeVersion", error.Message);
        Assert.Equal(typeof(InvalidMessageException).FullName, error.ExceptionType);
    }

    [Fact]
    public async Task A_structurally_invalid_command_goes_to_the_error_path_without_being_processed()
    {
        var run = new SubmitRun(Guid.NewGuid(), new DatasetRef("datasets/none/"), new RunConfig(), DateTimeOffset.UtcNow);
        await _states.UpdateAsync(run.RunId, _ => RunStateStore.Pending(run));
        var endpoint = await _harness.Bus.GetSendEndpoint(new Uri($"queue:{QueueNames.ExtractFeatureShard}"));
        await endpoint.Send(new ExtractFeatureShard(run.RunId, run.Dataset, "abc", 1, 0, 1, [], "features/abc/recipe-1/shards/shard-00000-of-00001/"));

        var failed = await WaitForStatusAsync(run.RunId, s => s.Stage.IsTerminal(), "the run to fail");
        Assert.Contains("clips must not be empty", Assert.Single(failed.Errors).Message);
        Assert.False(await _blobs.ExistsAsync("features/abc/recipe-1/shards/shard-00000-of-00001/shard.json"));
    }

    [Fact]
    public async Task A_missing_dataset_fails_the_run_with_a_clear_message()
    {
        var submit = await SubmitAsync("datasets/does-not-exist/", shardSize: 8);
        var failed = await WaitForStatusAsync(submit.RunId, s => s.Stage.IsTerminal(), "the run to fail");
        Assert.Equal(RunStage.Failed, failed.Stage);
        var error = Assert.Single(failed.Errors);
        Assert.Equal(RunStage.Submitted, error.Stage);
        Assert.Contains("Dataset 'datasets/does-not-exist/' was not found", error.Message);
        Assert.False(await _harness.Sent.Any<ExtractFeatureShard>(m => m.Context.Message.RunId == submit.RunId));
    }
}
