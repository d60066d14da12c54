using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.LocalInfrastructure;
using CremaD.Pipeline;
using CremaD.Storage;

namespace CremaD.Benchmarks.Services;

/// <summary>
/// The distributed path measured end to end: a private RabbitMQ and Azurite, the dataset uploaded to a fresh container per
/// feature-service count, the four hosts as separate processes, one run submitted over HTTP and followed through the runs
/// API; then the same dataset and recipe through the local pipeline, for the overhead ratio.
/// </summary>
public sealed class ServicesBenchmark(BenchmarkOptions options, TextWriter progress)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromHours(4);
    // As a client would poll; a tighter poll costs the runs API and Azurite CPU that the run itself needs on a small machine.
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private const string DatasetName = "benchmark";

    public async Task<BenchmarkResults> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var loadBefore = LoadAverage();
        var dataset = DatasetReader.Open(options.DataRoot, new DatasetOptions());
        var config = options.Epochs is { } epochs
            ? new RunConfig { Epochs = epochs, ShardSize = options.ShardSize }
            : new RunConfig { ShardSize = options.ShardSize };
        var scratch = Directory.CreateTempSubdirectory("cremad-benchmark-services-").FullName;
        try
        {
            Report("starting a private RabbitMQ and Azurite");
            await using var rabbit = await RabbitMqInstance.StartAsync(cancellationToken);
            // On disk, as the AppHost runs it: Azurite's in-memory store slows down with the corpus's size (every GET scanned
            // longer as blobs were added: 7,442 clips ran at a third of the rate of 1,097).
            await using var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { InMemoryPersistence = false }, cancellationToken);
            // One upload per feature-service count, reused by every round: each round deletes the feature store it made.
            var containers = new Dictionary<int, (string Container, double UploadSeconds)>();
            foreach (var instances in options.FeatureInstances)
            {
                var container = $"bench-{instances}-{Guid.NewGuid().ToString("N")[..8]}";
                Report($"uploading the dataset to container {container}");
                var clock = Stopwatch.StartNew();
                await BlobDataset.UploadAsync(BlobStoreFactory.FromConnectionString(azurite.ConnectionString, container), options.DataRoot, DatasetName,
                    clipsPerPack: options.PackClips, cancellationToken: cancellationToken);
                containers[instances] = (container, clock.Elapsed.TotalSeconds);
            }

            // Rounds rather than all of one configuration then all of the next: a slow spell of the shared machine then
            // touches every configuration about equally.
            var local = new List<LocalResult>();
            var distributed = new List<DistributedResult>();
            for (var round = 1; round <= options.Repeat; round++)
            {
                Report($"round {round}/{options.Repeat}");
                if (!options.SkipLocal)
                {
                    local.Add(options.FeaturesOnly
                        ? await RunLocalFeaturesAsync(dataset, round, Path.Combine(scratch, $"local-{round}"), cancellationToken)
                        : await RunLocalAsync(round, Path.Combine(scratch, $"local-{round}"), cancellationToken));
                }
                foreach (var instances in options.FeatureInstances)
                {
                    var (container, uploadSeconds) = containers[instances];
                    distributed.Add(await RunDistributedAsync(instances, round, config, rabbit, azurite, container, uploadSeconds,
                        Path.Combine(scratch, $"services-{instances}-{round}"), cancellationToken));
                }
            }

            var flags = new Dictionary<string, object>(config.ToFlags(), StringComparer.Ordinal)
            {
                ["threads"] = options.Threads?.ToString(CultureInfo.InvariantCulture) ?? "default",
                ["repeat"] = options.Repeat,
                ["features_only"] = options.FeaturesOnly,
                ["pinned_feature_services"] = options.PinFeatureServices,
                ["pack_clips"] = options.PackClips,
            };
            var machine = new MachineInfo(Environment.ProcessorCount, RuntimeInformation.OSDescription, Environment.Version.ToString(),
                ServiceProcess.BuildConfiguration, loadBefore, LoadAverage());
            return BenchmarkResults.Create(started, machine, options.DataRoot, dataset.Clips.Count, flags, distributed, local);
        }
        finally
        {
            if (options.KeepLogs) Report($"logs kept in {scratch}");
            else TryDelete(scratch);
        }
    }

    /// <summary>
    /// `cremad run` itself, in a fresh process as a user runs it (so no round profits from an earlier round's JIT or loaded
    /// LibTorch, as the service processes do not either); durations from the run.json it writes, peak memory from
    /// /usr/bin/time.
    /// </summary>
    private async Task<LocalResult> RunLocalAsync(int round, string output, CancellationToken cancellationToken)
    {
        Report("  local run (`cremad run`, a fresh process)");
        var arguments = new List<string> { "-f", "%U %S %M", CliPath(), "run", "--data-root", options.DataRoot, "--output-dir", output };
        if (options.Epochs is { } epochs) arguments.AddRange(["--epochs", epochs.ToString(CultureInfo.InvariantCulture)]);
        if (options.Threads is { } threads) arguments.AddRange(["--threads", threads.ToString(CultureInfo.InvariantCulture)]);
        var start = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start /usr/bin/time");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var errors = await stderr;
        await stdout;
        if (process.ExitCode != 0) throw new InvalidOperationException($"cremad run exited with {process.ExitCode}:{Environment.NewLine}{errors}");
        // /usr/bin/time's last line of standard error: user and system CPU seconds, maximum resident set size (KiB).
        var usage = errors.TrimEnd().Split('\n')[^1].Trim().Split(' ');
        var cpuSeconds = double.Parse(usage[0], CultureInfo.InvariantCulture) + double.Parse(usage[1], CultureInfo.InvariantCulture);
        var peakKib = long.Parse(usage[2], CultureInfo.InvariantCulture);

        var manifest = RunManifest.Read(Path.Combine(output, RunFiles.Manifest));
        var durations = manifest.Durations;
        var history = Evaluation.TrainingHistory.Read(Path.Combine(output, Evaluation.ArtifactNames.History));
        var clips = manifest.Dataset.Clips + manifest.Dataset.Rejected;
        var result = new LocalResult(round, clips, durations.Features, clips / Math.Max(durations.Features, 1e-9),
            durations.Training, history.Sum(e => e.Seconds), durations.Evaluation, durations.Total, manifest.Results.EpochsRun,
            manifest.Results.TestAccuracy, peakKib / 1024.0, cpuSeconds);
        Report(string.Create(CultureInfo.InvariantCulture, $"  local: features {result.FeatureSeconds:F2} s, total {result.TotalSeconds:F2} s"));
        TryDelete(output);
        return result;
    }

    /// <summary>The built cremad CLI beside the service hosts (same configuration).</summary>
    private static string CliPath()
    {
        var path = Path.Combine(RepositoryRoot.Find(), "src", "CremaD.Cli", "bin", ServiceProcess.BuildConfiguration, "net10.0", "cremad");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built: build benchmarks/CremaD.Benchmarks.Services (it builds the CLI).", path);
    }

    /// <summary>The local feature stage alone (what `cremad features` runs), into a fresh store.</summary>
    private async Task<LocalResult> RunLocalFeaturesAsync(Dataset dataset, int round, string output, CancellationToken cancellationToken)
    {
        Report("  local feature stage (what `cremad features` runs)");
        var before = ServiceProcess.ReadPeakMemoryBytes(Environment.ProcessId) ?? 0;
        var cpuBefore = ServiceProcess.ReadCpuSeconds(Environment.ProcessId) ?? 0;
        var clock = Stopwatch.StartNew();
        var features = await FeatureStage.RunAsync(dataset, output, LocalFeatureOptions(), null, cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (ServiceProcess.ReadCpuSeconds(Environment.ProcessId) ?? 0) - cpuBefore;
        var processed = features.Extracted + features.Rejected;
        var result = new LocalResult(round, features.Clips, seconds, processed / Math.Max(seconds, 1e-9), double.NaN, double.NaN, double.NaN, seconds, 0,
            double.NaN, PeakMib(before), cpuSeconds);
        Report(string.Create(CultureInfo.InvariantCulture, $"  local: features {seconds:F2} s ({result.ClipsPerSecond:F0} clips/s)"));
        TryDelete(output);
        return result;
    }

    /// <summary>One worker per core, or (pinned) as many as the most feature services measured: the same cores of extraction.</summary>
    private FeatureStageOptions LocalFeatureOptions() =>
        options.PinFeatureServices ? new FeatureStageOptions { NumWorkers = options.FeatureInstances.Max() } : new FeatureStageOptions();

    /// <summary>
    /// This process's peak resident memory, in MiB. VmHWM only grows, so a later round reports the largest so far: the
    /// first round's figure is the clean one, and the report takes the median like every other figure.
    /// </summary>
    private static double PeakMib(long before) => Mib(Math.Max(before, ServiceProcess.ReadPeakMemoryBytes(Environment.ProcessId) ?? 0));

    /// <summary>CPU seconds of every process of a private server (the emulator's node, the broker's Erlang VM and epmd).</summary>
    private static double CpuSecondsOf(InfrastructureInstance instance) =>
        instance.FindOwnProcesses().Sum(p => ServiceProcess.ReadCpuSeconds(p.Id) ?? 0);

    private async Task<DistributedResult> RunDistributedAsync(int featureInstances, int round, RunConfig config, RabbitMqInstance rabbit,
        AzuriteInstance azurite, string container, double uploadSeconds, string scratch, CancellationToken cancellationToken)
    {
        var blobs = BlobStoreFactory.FromConnectionString(azurite.ConnectionString, container);
        var processes = new List<ServiceProcess>();
        string? storePrefix = null;
        try
        {
            var clock = Stopwatch.StartNew();
            var hosts = new List<(string Host, string Name, int[]? Cpus)> { ("CremaD.RunsApi", "runs-api", null) };
            hosts.AddRange(Enumerable.Range(1, featureInstances)
                .Select(i => ("CremaD.FeatureService", $"features-{i}", options.PinFeatureServices ? new[] { i - 1 } : null)));
            hosts.Add(("CremaD.TrainerService", "trainer", null));
            hosts.Add(("CremaD.EvaluationService", "evaluation", null));
            var starting = hosts.Select(h => StartAsync(h.Host, h.Name, h.Cpus, rabbit, azurite, container, scratch, cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                processes.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            }
            var startupSeconds = clock.Elapsed.TotalSeconds;
            Report(string.Create(CultureInfo.InvariantCulture,
                $"  {featureInstances} feature service(s): {processes.Count} processes up in {startupSeconds:F1} s; submitting the run"));

            var api = processes[0].Http;
            var infrastructureCpuBefore = (Storage: CpuSecondsOf(azurite), Broker: CpuSecondsOf(rabbit));
            clock.Restart();
            using var response = await api.PostAsJsonAsync("/runs", new SubmitRunRequest(DatasetName, config, $"benchmark, {featureInstances} feature service(s)"),
                ServiceJson.Options, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"POST /runs answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            var runId = (await response.Content.ReadFromJsonAsync<SubmitRunResponse>(ServiceJson.Options, cancellationToken))!.RunId;
            var status = await WaitForRunAsync(api, runId, processes, cancellationToken);
            var clientSeconds = clock.Elapsed.TotalSeconds;
            storePrefix = status.Features.FeatureStorePrefix;

            List<ProcessUsage> memory =
            [
                .. processes.Select(p => new ProcessUsage(p.Name, p.Host, Mib(p.PeakMemoryBytes()), p.CpuSeconds())),
                new("azurite", "node", double.NaN, CpuSecondsOf(azurite) - infrastructureCpuBefore.Storage),
                new("rabbitmq", "beam.smp", double.NaN, CpuSecondsOf(rabbit) - infrastructureCpuBefore.Broker),
            ];
            var shardSeconds = await ShardSecondsAsync(blobs, storePrefix, cancellationToken);
            var result = Summarise(featureInstances, round, status, shardSeconds, clientSeconds, startupSeconds, uploadSeconds, memory);
            Report(string.Create(CultureInfo.InvariantCulture,
                $"  {result.Stage}: features {result.FeatureSeconds:F2} s ({result.ClipsPerSecond:F0} clips/s), total {result.TotalSeconds:F2} s"));
            return result;
        }
        finally
        {
            foreach (var process in processes) await process.StopAsync(TimeSpan.FromSeconds(15));
            foreach (var process in processes) await process.DisposeAsync();
            // The next round must extract again: the feature store is keyed by the dataset's fingerprint.
            if (storePrefix is not null)
            {
                await foreach (var blob in blobs.ListAsync(storePrefix, CancellationToken.None)) await blobs.DeleteAsync(blob.Key, CancellationToken.None);
            }
        }
    }

    private Task<ServiceProcess> StartAsync(string host, string name, int[]? cpus, RabbitMqInstance rabbit, AzuriteInstance azurite, string container,
        string scratch, CancellationToken cancellationToken)
    {
        var environment = ServiceProcess.BaseEnvironment(rabbit.ConnectionString, azurite.ConnectionString, container,
            Path.Combine(scratch, "work-" + name));
        if (options.Threads is { } threads)
        {
            environment["Trainer__Threads"] = threads.ToString(CultureInfo.InvariantCulture);
            environment["Evaluation__Threads"] = threads.ToString(CultureInfo.InvariantCulture);
        }
        return ServiceProcess.StartAsync(host, name, environment, Path.Combine(scratch, "logs"), StartTimeout, cancellationToken, cpus);
    }

    /// <summary>Follows the run through GET /runs/{id}, as a client would, until it finishes.</summary>
    private async Task<RunStatus> WaitForRunAsync(HttpClient api, Guid runId, IReadOnlyList<ServiceProcess> processes,
        CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var lastStage = "";
        while (true)
        {
            var status = await api.GetFromJsonAsync<RunStatus>($"/runs/{runId:D}", ServiceJson.Options, cancellationToken);
            if (status is not null)
            {
                var stage = status.Stage.ToString().ToLowerInvariant();
                if (stage != lastStage) Report($"  run {runId:D}: {stage}");
                lastStage = stage;
                if (status.Stage.IsTerminal()) return status;
                if (options.FeaturesOnly && status.Timestamps.FeaturesReadyAt is not null)
                {
                    using var cancel = await api.PostAsync($"/runs/{runId:D}/cancel", null, cancellationToken);
                    return status;
                }
            }
            if (processes.FirstOrDefault(p => p.HasExited) is { } dead)
            {
                throw new InvalidOperationException($"{dead.Name} exited during the run.{Environment.NewLine}{dead.LogTail()}");
            }
            if (deadline.Elapsed > RunTimeout) throw new TimeoutException($"Run {runId:D} did not finish within {RunTimeout}.");
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <summary>Each shard's own wall time, from the shard.json manifests the feature services wrote.</summary>
    private static async Task<IReadOnlyList<double>> ShardSecondsAsync(IBlobStore blobs, string? storePrefix, CancellationToken cancellationToken)
    {
        var seconds = new List<double>();
        if (storePrefix is null) return seconds;
        await foreach (var blob in blobs.ListAsync(BlobLayout.ShardsPrefix(storePrefix), cancellationToken))
        {
            if (!BlobLayout.IsShardManifestKey(blob.Key)) continue;
            seconds.Add((await blobs.ReadJsonAsync<FeatureShardManifest>(blob.Key, ServiceJson.Options, cancellationToken)).Seconds);
        }
        return seconds;
    }

    private static DistributedResult Summarise(int featureInstances, int round, RunStatus status, IReadOnlyList<double> shardSeconds, double clientSeconds,
        double startupSeconds, double uploadSeconds, IReadOnlyList<ProcessUsage> memory)
    {
        static double Seconds(DateTimeOffset? from, DateTimeOffset? to) => from is { } f && to is { } t ? (t - f).TotalSeconds : double.NaN;

        var times = status.Timestamps;
        var features = status.Features;
        var featureSeconds = Seconds(times.FeaturesStartedAt, times.FeaturesReadyAt);
        var processed = features.ClipsExtracted + features.ClipsRejected;
        return new DistributedResult(
            featureInstances,
            round,
            status.RunId,
            status.Stage.ToString().ToLowerInvariant(),
            features.ShardCount,
            processed,
            featureSeconds,
            processed / featureSeconds,
            features.AudioSeconds / featureSeconds,
            shardSeconds.Sum(),
            shardSeconds.DefaultIfEmpty(0).Max(),
            Seconds(times.FeaturesReadyAt, times.TrainingCompletedAt),
            Seconds(times.FeaturesReadyAt, times.TrainingStartedAt),
            status.Training.History.Sum(e => e.Seconds),
            Seconds(times.TrainingCompletedAt, times.FinishedAt),
            Seconds(times.SubmittedAt, times.FinishedAt),
            clientSeconds,
            status.Training.EpochsCompleted,
            status.Evaluation?.Accuracy,
            startupSeconds,
            uploadSeconds,
            memory,
            status.Errors.Select(e => $"{e.Stage.ToString().ToLowerInvariant()}: {e.Message}").ToList());
    }

    private void Report(string line) => progress.WriteLine(line);

    private static double Mib(long bytes) => bytes / (1024.0 * 1024.0);

    /// <summary>/proc/loadavg's 1, 5 and 15-minute averages: how busy the machine was.</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A process that has not let go of a file yet; the temporary folder is cleaned by the system.
        }
    }
}
