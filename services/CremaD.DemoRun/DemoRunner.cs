using System.Diagnostics;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Runs.Client;
using CremaD.Storage;

namespace CremaD.DemoRun;

/// <summary>Uploads the dataset, submits one run, reports its progress, downloads its artefacts; returns the exit code.</summary>
public sealed class DemoRunner(DemoRunOptions options, IBlobStore blobs, RunsClient runs, ILogger<DemoRunner> logger)
{
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (options.DataRoot is null || !Directory.Exists(options.DataRoot))
        {
            logger.LogError("Demo:DataRoot '{DataRoot}' is not a folder.", options.DataRoot);
            return 2;
        }
        var prefix = BlobDataset.PrefixOf(options.DatasetName);
        if (!options.ForceUpload && await blobs.ExistsAsync(BlobLayout.FileKey(prefix, DatasetReader.LabelsFileName), cancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Dataset '{Name}' is already in storage ({Prefix}).", options.DatasetName, prefix);
        }
        else
        {
            logger.LogInformation("Uploading {DataRoot} to {Prefix} …", options.DataRoot, prefix);
            var (_, files, dataset) = await BlobDataset.UploadAsync(blobs, options.DataRoot, options.DatasetName, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            logger.LogInformation("Uploaded {Files} files ({Clips} clips) in {Seconds:0.0} s.", files, dataset.Clips.Count, clock.Elapsed.TotalSeconds);
        }

        var config = RunConfig.Default;
        if (options.Epochs is { } epochs) config = config with { Epochs = epochs };
        if (options.Loop is { } loop) config = config with { Loop = loop };
        var runId = await runs.SubmitAsync(new SubmitRunRequest(options.DatasetName, config, Name: options.DatasetName), cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Run {RunId} submitted. Watch it in the runs UI: {Page}", runId.ToString("D"), new Uri(options.RunsApi!, $"#/runs/{runId:D}"));

        string? lastReport = null;
        while (true)
        {
            RunStatus? run;
            try
            {
                run = await runs.GetAsync(runId, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                // The runs API may be restarting; the run's state is in blob storage, so nothing is lost.
                logger.LogWarning("The runs API is not answering ({Message}); retrying.", e.Message);
                await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (run is not null)
            {
                var report = $"run {runId:D}: {run.Stage.ToString().ToLowerInvariant()} {run.Progress:P0}" +
                             (run.Training.History.Count > 0 ? $", epoch {run.Training.History.Count}/{run.Training.MaxEpochs}" : "");
                if (report != lastReport) logger.LogInformation("{Report}", report);
                lastReport = report;
                if (run.Stage == RunStage.Completed)
                {
                    var target = Path.GetFullPath(Path.Combine(options.ArtifactsDirectory, runId.ToString("D")));
                    try
                    {
                        var files = await runs.DownloadArtifactsAsync(run, target, cancellationToken).ConfigureAwait(false);
                        logger.LogInformation(
                            "Run {RunId} completed in {Seconds:0.0} s: test accuracy {Accuracy:P1}, macro F1 {MacroF1:0.000}; {Files} files in {Target}",
                            runId.ToString("D"), clock.Elapsed.TotalSeconds, run.Evaluation?.Accuracy, run.Evaluation?.MacroF1, files.Count, target);
                        return 0;
                    }
                    catch (HttpRequestException e)
                    {
                        logger.LogWarning("Could not download the artefacts of run {RunId} yet ({Message}); retrying.", runId.ToString("D"), e.Message);
                    }
                }
                else if (run.Stage.IsTerminal())
                {
                    logger.LogError("Run {RunId} ended {Stage}: {Errors}", runId.ToString("D"), run.Stage.ToString().ToLowerInvariant(),
                        string.Join("; ", run.Errors.Select(e => e.Message)));
                    return 1;
                }
            }
            await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
