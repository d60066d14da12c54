using System.Globalization;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;
using Spectre.Console;

namespace CremaD.Cli;

/// <summary>
/// Shows a run's progress: on a terminal, live bars for the feature stage, the epochs and the current epoch's
/// batches, with one line per finished epoch; elsewhere (logs, CI, tests) one plain line per stage and per epoch.
/// Callbacks arrive on the training thread; Spectre's progress tasks are safe to update from there.
/// </summary>
public sealed class RunProgress : IRunObserver
{
    private readonly CliConsole console;
    private ProgressContext? context;
    private ProgressTask? featuresTask;
    private ProgressTask? epochsTask;
    private ProgressTask? batchesTask;
    private int totalEpochs;

    private RunProgress(CliConsole console) => this.console = console;

    /// <summary>Runs <paramref name="work"/> with a progress display fitting <paramref name="console"/>.</summary>
    public static async Task<T> ShowAsync<T>(CliConsole console, Func<RunProgress, Task<T>> work)
    {
        var progress = new RunProgress(console);
        if (!console.IsInteractive) return await work(progress).ConfigureAwait(false);
        return await AnsiConsole.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                progress.context = ctx;
                return await work(progress).ConfigureAwait(false);
            })
            .ConfigureAwait(false);
    }

    public IProgress<FeatureProgress>? FeatureProgress => new FeatureProgressSink(this);

    public void OnStageStarted(RunStage stage)
    {
        if (context is null) console.Line($"{Name(stage)}: started");
        else if (stage == RunStage.Features) featuresTask = context.AddTask("features", maxValue: 1);
    }

    public void OnStageCompleted(RunStage stage, TimeSpan elapsed, string summary)
    {
        if (stage == RunStage.Features && featuresTask is not null) featuresTask.StopTask();
        if (stage == RunStage.Training) { epochsTask?.StopTask(); batchesTask?.StopTask(); }
        Line($"{Name(stage)}: {summary} ({elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
    }

    public void OnTrainingStarted(TrainingStarted started)
    {
        totalEpochs = started.Options.Epochs;
        Line($"training: {started.TrainClips} train / {started.ValidationClips} validation clips, {started.BatchesPerEpoch} batches per epoch, " +
             $"up to {totalEpochs} epochs, loop {started.Options.Loop.ToString().ToLowerInvariant()}, device {started.Device}, {started.Threads} threads" +
             (started.FirstEpoch > 1 ? $", resuming at epoch {started.FirstEpoch}" : ""));
        if (context is null) return;
        epochsTask = context.AddTask("epochs", maxValue: totalEpochs);
        epochsTask.Value = started.FirstEpoch - 1;
        batchesTask = context.AddTask($"epoch {started.FirstEpoch}", maxValue: started.BatchesPerEpoch);
    }

    public void OnBatchCompleted(BatchProgress progress)
    {
        if (batchesTask is null) return;
        batchesTask.MaxValue = progress.Batches;
        batchesTask.Value = progress.Batch;
        batchesTask.Description = $"epoch {progress.Epoch} loss {progress.Loss.ToString("F3", CultureInfo.InvariantCulture)}";
    }

    public void OnEpochCompleted(EpochProgress progress)
    {
        var r = progress.Record;
        var inv = CultureInfo.InvariantCulture;
        Line(string.Create(inv,
            $"epoch {r.Epoch,3}/{totalEpochs}: train loss {r.TrainLoss:F4} acc {r.TrainAccuracy:P1} | val loss {r.ValidationLoss:F4} acc {r.ValidationAccuracy:P1} | lr {r.LearningRate:E2} | {r.Seconds:F1} s")
            + (progress.Improved ? " *best*" : "")
            + (progress.Stopping && r.Epoch < totalEpochs ? $" (early stop: no improvement for {progress.EpochsWithoutImprovement} epochs)" : ""));
        if (epochsTask is not null) epochsTask.Value = r.Epoch;
        if (batchesTask is not null)
        {
            batchesTask.Value = 0;
            batchesTask.Description = $"epoch {r.Epoch + 1}";
        }
    }

    private void Line(string text)
    {
        if (context is null) console.Line(text);
        else AnsiConsole.WriteLine(text);
    }

    private static string Name(RunStage stage) => stage.ToString().ToLowerInvariant();

    private sealed class FeatureProgressSink(RunProgress owner) : IProgress<FeatureProgress>
    {
        public void Report(FeatureProgress p)
        {
            if (owner.featuresTask is not { } task) return;
            task.MaxValue = Math.Max(1, p.Total);
            task.Value = p.Done;
            task.Description = $"features {p.Done}/{p.Total} clips, {p.ClipsPerSecond:F0} clips/s";
        }
    }
}
