using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.LocalInfrastructure;
using CremaD.Storage;

namespace CremaD.Benchmarks.Services;

/// <summary>One trainer-replica count of <see cref="SweepBenchmark"/>.</summary>
/// <param name="Seconds">POST /sweeps until every fold's run finished.</param>
/// <param name="TrainingSeconds">First fold's training start to the last fold's training end.</param>
/// <param name="MostFoldsTrainingAtOnce">The most folds whose training intervals overlapped at one instant.</param>
/// <param name="Workers">Each fold's trainer, fold 1 first.</param>
public sealed record SweepResult(int TrainerReplicas, int ThreadsPerTrainer, string Stage, double Seconds, double TrainingSeconds, int MostFoldsTrainingAtOnce,
    IReadOnlyList<string?> Workers, IReadOnlyList<double> FoldTrainingSeconds, double? AccuracyMean, double? MacroF1Mean);

/// <summary>
/// A speaker-independent k-fold cross-validation sweep through the services, once per trainer-replica count: the same
/// processes as the run benchmark (runs API, one feature service, N trainers each with cores/N threads, evaluation), a
/// fresh container per count (so no count reuses another's features), <c>POST /sweeps</c>, and every fold followed to
/// its end. Reports the sweep's wall time, how many folds trained at once and which replica trained each.
/// </summary>
public sealed class SweepBenchmark(BenchmarkOptions options, TextWriter progress)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan SweepTimeout = TimeSpan.FromHours(4);
    private const string DatasetName = "benchmark";

    public async Task<IReadOnlyList<SweepResult>> RunAsync(CancellationToken cancellationToken)
    {
        var config = new RunConfig { Epochs = options.Epochs ?? RunConfig.Default.Epochs, ShardSize = options.ShardSize };
        var scratch = Directory.CreateTempSubdirectory("cremad-benchmark-sweep-").FullName;
        try
        {
            progress.WriteLine("starting a private RabbitMQ and Azurite");
            await using var rabbit = await RabbitMqInstance.StartAsync(cancellationToken);
            await using var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { InMemoryPersistence = false }, cancellationToken);
            var results = new List<SweepResult>();
            foreach (var replicas in options.TrainerReplicas)
            {
                var container = $"sweep-{replicas}-{Guid.NewGuid().ToString("N")[..8]}";
                progress.WriteLine($"uploading the dataset to container {container}");
                await BlobDataset.UploadAsync(BlobStoreFactory.FromConnectionString(azurite.ConnectionString, container), options.DataRoot, DatasetName,
                    clipsPerPack: options.PackClips, cancellationToken: cancellationToken);
                results.Add(await RunSweepAsync(replicas, config, rabbit, azurite, container, Path.Combine(scratch, $"replicas-{replicas}"), cancellationToken));
            }
            return results;
        }
        finally
        {
            if (options.KeepLogs) progress.WriteLine($"logs kept in {scratch}");
            else
            {
                try { Directory.Delete(scratch, recursive: true); } catch (IOException) { /* a process still letting go; /tmp is cleaned anyway */ }
            }
        }
    }

    private async Task<SweepResult> RunSweepAsync(int replicas, RunConfig config, RabbitMqInstance rabbit, AzuriteInstance azurite, string container,
        string scratch, CancellationToken cancellationToken)
    {
        var threads = Math.Max(1, (options.Threads ?? Environment.ProcessorCount) / replicas);
        var hosts = new List<(string Host, string Name)> { ("CremaD.RunsApi", "runs-api"), ("CremaD.FeatureService", "features") };
        hosts.AddRange(Enumerable.Range(1, replicas).Select(i => ("CremaD.TrainerService", $"trainer-{i}")));
        hosts.Add(("CremaD.EvaluationService", "evaluation"));
        var processes = new List<ServiceProcess>();
        try
        {
            var starting = hosts.Select(h =>
            {
                var environment = ServiceProcess.BaseEnvironment(rabbit.ConnectionString, azurite.ConnectionString, container, Path.Combine(scratch, "work-" + h.Name));
                environment["Trainer__Threads"] = threads.ToString(CultureInfo.InvariantCulture);
                environment["Evaluation__Threads"] = (options.Threads ?? Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture);
                return ServiceProcess.StartAsync(h.Host, h.Name, environment, Path.Combine(scratch, "logs"), StartTimeout, cancellationToken);
            }).ToList();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                processes.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            }
            progress.WriteLine($"  {replicas} trainer(s) with {threads} thread(s) each: {processes.Count} processes up; submitting a {options.SweepFolds}-fold sweep");

            var api = processes[0].Http;
            var clock = Stopwatch.StartNew();
            using var response = await api.PostAsJsonAsync("/sweeps",
                new SubmitSweepRequest(DatasetName, options.SweepFolds, config, $"benchmark, {replicas} trainer(s)"), ServiceJson.Options, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Accepted)
                throw new InvalidOperationException($"POST /sweeps answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            var sweepId = (await response.Content.ReadFromJsonAsync<SubmitSweepResponse>(ServiceJson.Options, cancellationToken))!.SweepId;
            SweepStatus status;
            var reported = "";
            while (true)
            {
                status = (await api.GetFromJsonAsync<SweepStatus>($"/sweeps/{sweepId:D}", ServiceJson.Options, cancellationToken))!;
                var line = string.Join(", ", status.FoldRuns.Select(f => $"fold {f.Fold} {f.Stage.ToString().ToLowerInvariant()} {f.Progress:P0}"));
                if (line != reported) progress.WriteLine($"  {line}");
                reported = line;
                if (status.FoldRuns.All(f => f.Stage.IsTerminal())) break;
                if (processes.FirstOrDefault(p => p.HasExited) is { } dead)
                    throw new InvalidOperationException($"{dead.Name} exited during the sweep.{Environment.NewLine}{dead.LogTail()}");
                if (clock.Elapsed > SweepTimeout) throw new TimeoutException($"Sweep {sweepId:D} did not finish within {SweepTimeout}.");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            var seconds = clock.Elapsed.TotalSeconds;

            var runs = new List<RunStatus>();
            foreach (var fold in status.FoldRuns) runs.Add((await api.GetFromJsonAsync<RunStatus>($"/runs/{fold.RunId:D}", ServiceJson.Options, cancellationToken))!);
            var intervals = runs.Where(r => r.Timestamps.TrainingStartedAt is not null && r.Timestamps.TrainingCompletedAt is not null)
                .Select(r => (Start: r.Timestamps.TrainingStartedAt!.Value, End: r.Timestamps.TrainingCompletedAt!.Value)).ToList();
            var result = new SweepResult(replicas, threads, status.Stage.ToString().ToLowerInvariant(), seconds,
                intervals.Count == 0 ? double.NaN : (intervals.Max(i => i.End) - intervals.Min(i => i.Start)).TotalSeconds,
                MostAtOnce(intervals), [.. status.FoldRuns.Select(f => f.Worker)],
                [.. intervals.Select(i => (i.End - i.Start).TotalSeconds)], status.AccuracyMean, status.MacroF1Mean);
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {result.Stage} in {seconds:F1} s; training span {result.TrainingSeconds:F1} s; at most {result.MostFoldsTrainingAtOnce} folds training at once"));
            return result;
        }
        finally
        {
            foreach (var process in processes) await process.StopAsync(TimeSpan.FromSeconds(15));
            foreach (var process in processes) await process.DisposeAsync();
        }
    }

    /// <summary>The largest number of intervals that contain one instant (a sweep over their ends).</summary>
    public static int MostAtOnce(IReadOnlyList<(DateTimeOffset Start, DateTimeOffset End)> intervals)
    {
        var events = intervals.SelectMany(i => new[] { (At: i.Start, Delta: 1), (At: i.End, Delta: -1) })
            .OrderBy(e => e.At).ThenBy(e => e.Delta); // an end before a start at the same instant: touching is not overlapping
        int current = 0, most = 0;
        foreach (var e in events)
        {
            current += e.Delta;
            most = Math.Max(most, current);
        }
        return most;
    }

    public static string ToJson(IReadOnlyList<SweepResult> results) => JsonSerializer.Serialize(results, BenchmarkResults.Json);

    public static string ToText(IReadOnlyList<SweepResult> results, int folds)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{folds}-fold sweep through the services, by trainer replicas:");
        text.AppendLine("| trainers × threads | sweep s | training span s | most folds training at once | fold trainings s | trainers of folds 1.. | accuracy mean | macro-F1 mean |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.TrainerReplicas} × {r.ThreadsPerTrainer} | {r.Seconds:F1} | {r.TrainingSeconds:F1} | {r.MostFoldsTrainingAtOnce} | {string.Join(", ", r.FoldTrainingSeconds.Select(s => s.ToString("F1", CultureInfo.InvariantCulture)))} | {string.Join(", ", r.Workers.Select(w => w?.Split(' ')[0] ?? "?"))} | {r.AccuracyMean:P1} | {r.MacroF1Mean:F3} |"));
        }
        if (results.Count > 1)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Sweep time, {results[0].TrainerReplicas} trainer(s) over {results[^1].TrainerReplicas}: {results[0].Seconds / results[^1].Seconds:F2}x"));
        }
        return text.ToString();
    }
}
