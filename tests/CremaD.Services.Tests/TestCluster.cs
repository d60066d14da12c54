using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Testing;
using CremaD.Training.Service;

namespace CremaD.Services.Tests;

/// <summary>
/// What the in-process cluster (<see cref="ServiceCluster"/>) and the process cluster (<see cref="ProcessCluster"/>)
/// share: a blob container of their own on the fixture's Azurite and the run state in it, the settings that make the
/// services quick, the instance names, a dataset upload, and submitting a run through the runs API and waiting for it.
/// </summary>
internal abstract class TestCluster : IAsyncDisposable
{
    private readonly TimeSpan _runTimeout;

    protected TestCluster(RabbitMqFixture rabbit, AzuriteFixture azurite, string containerPrefix, TimeSpan runTimeout)
        : this(rabbit.ConnectionString, azurite.ConnectionString, containerPrefix, runTimeout)
    {
    }

    /// <summary>A cluster on a broker and an Azurite of the test's own (a drill that kills and restarts them).</summary>
    protected TestCluster(string rabbitConnectionString, string azuriteConnectionString, string containerPrefix, TimeSpan runTimeout)
    {
        RabbitConnectionString = rabbitConnectionString;
        AzuriteConnectionString = azuriteConnectionString;
        Container = containerPrefix + "-" + Guid.NewGuid().ToString("N")[..12];
        Blobs = BlobStoreFactory.FromConnectionString(azuriteConnectionString, Container);
        States = new RunStateStore(Blobs);
        _runTimeout = runTimeout;
    }

    /// <summary>
    /// Besides the broker, the storage, the container and a work folder, what every service of a test cluster is
    /// configured with (configuration keys): quick retries and polls, one LibTorch thread (a fixed thread count makes
    /// training reproducible), the shortest lease.
    /// </summary>
    protected static IReadOnlyDictionary<string, string> QuickSettings { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["RunsApi:ApiKey"] = ApiKey,
        ["Messaging:RetryIntervals:0"] = "00:00:00.200",
        ["Messaging:RetryIntervals:1"] = "00:00:01",
        ["Trainer:PollInterval"] = "00:00:01",
        ["Trainer:LeaseDuration"] = "00:00:15",
        // Every epoch's checkpoint stored: the kill tests stop a trainer right after one.
        ["Trainer:CheckpointInterval"] = "00:00:00",
        ["Trainer:Threads"] = "1",
        ["Evaluation:Threads"] = "1",
    };

    /// <summary>The runs API's key in every test cluster (the API refuses to start without one).</summary>
    public const string ApiKey = "test-runs-api-key-0123456789abcdefghijklmnop";

    /// <summary>An HttpClient for the runs API at <paramref name="address"/> that sends <see cref="ApiKey"/>.</summary>
    public static HttpClient AuthorizedClient(Uri address)
    {
        var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    protected string RabbitConnectionString { get; }

    protected string AzuriteConnectionString { get; }

    protected TempDirectory Temp { get; } = new();

    public string Container { get; }

    public IBlobStore Blobs { get; }

    /// <summary>The trainer's pointer of the run's model (owner generation, committed checkpoint, result); null before a trainer took the run.</summary>
    public async Task<ModelCheckpointPointer?> ModelPointerAsync(Guid runId)
    {
        var key = BlobLayout.ModelCheckpointKey(BlobLayout.ModelPrefix(runId));
        return await Blobs.ExistsAsync(key) ? await Blobs.ReadJsonAsync<ModelCheckpointPointer>(key, ServiceJson.Options) : null;
    }

    /// <summary>The folder of the run's trained model, as the trainer committed it (TrainingCompleted's model prefix).</summary>
    public async Task<string> TrainedModelPrefixAsync(Guid runId) =>
        (await ModelPointerAsync(runId))?.Completed?.ModelPrefix ?? throw new InvalidOperationException($"Run {runId:D} has no trained model.");

    public RunStateStore States { get; }

    /// <summary>A client of the started runs API.</summary>
    protected abstract HttpClient RunsApiClient { get; }

    /// <summary>The service an instance name stands for: "runs-api…", "features…", "trainer…", "evaluation…".</summary>
    protected static TestService ServiceOf(string name) =>
        name.StartsWith("runs-api", StringComparison.Ordinal) ? TestService.RunsApi
        : name.StartsWith("features", StringComparison.Ordinal) ? TestService.Features
        : name.StartsWith("trainer", StringComparison.Ordinal) ? TestService.Trainer
        : name.StartsWith("evaluation", StringComparison.Ordinal) ? TestService.Evaluation
        : throw new ArgumentException($"'{name}' names none of the services (runs-api, features…, trainer…, evaluation…).", nameof(name));

    /// <summary>
    /// Uploads a course-layout dataset cut from samples/demo (12 train, 6 validation, 6 test clips unless told otherwise;
    /// with <paramref name="brokenClip"/>, one more that is not audio) under <c>datasets/&lt;name&gt;/</c>; returns the name.
    /// One blob per file, or with <paramref name="clipsPerPack"/> packed as <c>cremad dataset upload</c> packs it.
    /// </summary>
    public async Task<string> UploadDatasetAsync(string name, bool brokenClip, int train = 12, int validation = 6, int test = 6,
        int clipsPerPack = 0)
    {
        var local = Temp.Sub("dataset-" + name);
        TestDatasets.WriteDemoSubset(local, train, validation, test, brokenClip);
        if (clipsPerPack > 0) await BlobDataset.UploadAsync(Blobs, local, name, clipsPerPack: clipsPerPack);
        else await Blobs.UploadDirectoryAsync(local, BlobLayout.DatasetPrefix(name));
        return name;
    }

    /// <summary>Uploads a demo subset loose under datasets/<paramref name="name"/>/; the clips' relative paths.</summary>
    public async Task<IReadOnlyList<string>> UploadDemoSubsetAsync(string name, int train, int validation, int test)
    {
        var local = Temp.Sub("dataset-" + name);
        var clips = TestDatasets.WriteDemoSubset(local, train, validation, test);
        await Blobs.UploadDirectoryAsync(local, BlobLayout.DatasetPrefix(name));
        return clips;
    }

    /// <summary>POST /runs; the run's id.</summary>
    public async Task<Guid> SubmitAsync(string dataset, RunConfig config, string name = "services test",
        LabelSourceChoice labelsFrom = LabelSourceChoice.Acted)
    {
        using var response = await RunsApiClient.PostAsJsonAsync("/runs", new SubmitRunRequest(dataset, config, name, LabelsFrom: labelsFrom), ServiceJson.Options);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<SubmitRunResponse>(ServiceJson.Options))!.RunId;
    }

    /// <summary>Polls the run's status until <paramref name="done"/>; on a timeout the message has the hosts' logs.</summary>
    public async Task<RunStatus> WaitForAsync(Guid runId, Func<RunStatus, bool> done, string what)
    {
        try
        {
            return await Eventually.WaitAsync(() => States.GetAsync(runId), done, _runTimeout, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Environment.NewLine + HostLogs(), e);
        }
    }

    /// <summary>Submits a run and waits until it has completed.</summary>
    public async Task<RunStatus> CompleteRunAsync(string dataset, RunConfig config)
    {
        var runId = await SubmitAsync(dataset, config);
        var status = await WaitForAsync(runId, s => s.Stage.IsTerminal(), $"the run on {dataset}");
        Assert.True(status.Stage == RunStage.Completed, Describe(status));
        return status;
    }

    /// <summary>A status and the hosts' logs, for an assertion message.</summary>
    public string Describe(RunStatus status) => JsonSerializer.Serialize(status, ServiceJson.Options) + Environment.NewLine + HostLogs();

    /// <summary>What the hosts logged lately, where that is not the test's own output.</summary>
    protected virtual string HostLogs() => "";

    public virtual async ValueTask DisposeAsync()
    {
        if (Blobs is AzureBlobStore azure) await azure.Container.DeleteIfExistsAsync();
        Temp.Dispose();
    }
}
