using System.Text.Json;
using MassTransit.Serialization;
using S = CremaD.Contracts.Tests.SampleMessages;

namespace CremaD.Contracts.Tests;

public sealed class RunStatusTests
{
    /// <summary>A complete run's events in the order they happen.</summary>
    private static IReadOnlyList<IRunEvent> Lifecycle() =>
    [
        S.ShardExtracted(0), S.ShardExtracted(1), S.FeaturesReady, S.TrainingStarted,
        S.EpochCompleted(1), S.EpochCompleted(2), S.EpochCompleted(3), S.TrainingCompleted,
        S.EvaluationCompleted, S.RunCompleted,
    ];

    private static string Json(RunStatus status) => JsonSerializer.Serialize(status, SystemTextJsonMessageSerializer.Options);

    [Fact]
    public void A_run_moves_through_its_stages_with_rising_progress()
    {
        var status = RunStatus.Submitted(S.RunSubmitted);
        Assert.Equal((RunStage.Submitted, 0.0), (status.Stage, status.Progress));
        Assert.Equal(("demo run", 2, 10), (status.Name, status.Features.ShardCount, status.Features.Clips));

        var seen = new List<(RunStage Stage, double Progress)>();
        foreach (var e in Lifecycle())
        {
            status = status.Apply(e);
            seen.Add((status.Stage, Math.Round(status.Progress, 6)));
        }

        Assert.Equal(
            [
                (RunStage.Features, 0.1), (RunStage.Features, 0.2), (RunStage.Training, 0.2), (RunStage.Training, 0.2),
                (RunStage.Training, Math.Round(0.2 + 0.7 / 3, 6)), (RunStage.Training, Math.Round(0.2 + 0.7 * 2 / 3, 6)),
                (RunStage.Training, 0.9), (RunStage.Evaluation, 0.9), (RunStage.Evaluation, 0.99), (RunStage.Completed, 1.0),
            ],
            seen);
    }

    [Fact]
    public void A_completed_run_shows_its_metrics_rejections_artifacts_and_times()
    {
        var status = RunStatus.Submitted(S.RunSubmitted).ApplyAll(Lifecycle());

        Assert.Equal([0, 1], status.Features.CompletedShards);
        Assert.Equal((9, 1, true, false), (status.Features.ClipsExtracted, status.Features.ClipsRejected, status.Features.Ready, status.Features.Reused));
        Assert.Equal([RejectionStage.Dataset, RejectionStage.Audio], status.RejectedClips.Select(r => r.Stage));
        Assert.Equal((3, 2, 0.35, "cpu", true), (status.Training.EpochsCompleted, status.Training.BestEpoch,
            status.Training.BestValidationAccuracy, status.Training.Device, status.Training.Completed));
        Assert.Equal([1, 2, 3], status.Training.History.Select(h => h.Epoch));
        Assert.Equal((0.5, 0.42, 2), (status.Evaluation!.Accuracy, status.Evaluation.MacroF1, status.Evaluation.Samples));
        // The trained model (weights + manifest) is an artefact too, downloadable through the runs API.
        Assert.Equal(["history.json", "best_model", "model.json", "classification_report.json", "test_metrics.json", "confusion_matrix.png", "training_curves.png"],
            status.Artifacts.Select(a => a.Name));
        Assert.Equal(S.TrainingCompleted.ModelPrefix.TrimEnd('/') + "/best_model", status.Artifacts.Single(a => a.Name == "best_model").Key);
        Assert.Empty(status.Errors);
        var times = status.Timestamps;
        Assert.Equal(S.Start, times.SubmittedAt);
        Assert.Equal(S.RunSubmitted.Timestamp, times.FeaturesStartedAt); // the plan, before any shard started
        Assert.Equal(S.FeaturesReady.Timestamp, times.FeaturesReadyAt);
        Assert.Equal(S.TrainingStarted.Timestamp, times.TrainingStartedAt);
        Assert.Equal(S.TrainingCompleted.Timestamp, times.TrainingCompletedAt);
        Assert.Equal(S.EvaluationCompleted.Timestamp, times.EvaluationCompletedAt);
        Assert.Equal(S.RunCompleted.Timestamp, times.FinishedAt);
        Assert.Equal(S.RunCompleted.Timestamp, times.UpdatedAt);
    }

    [Fact]
    public void The_feature_stage_starts_at_the_plan_or_at_an_earlier_shard_start()
    {
        var planned = RunStatus.Submitted(S.RunSubmitted);
        Assert.Equal(S.RunSubmitted.Timestamp, planned.Timestamps.FeaturesStartedAt);

        // A shard reported by a machine whose clock is behind: it started before the plan's time.
        var early = S.ShardExtracted(0) with { Timestamp = S.RunSubmitted.Timestamp.AddSeconds(1), Seconds = 3 };
        Assert.Equal(S.RunSubmitted.Timestamp.AddSeconds(-2), planned.Apply(early).Timestamps.FeaturesStartedAt);
        Assert.Equal(S.RunSubmitted.Timestamp, planned.Apply(S.ShardExtracted(1)).Timestamps.FeaturesStartedAt);
    }

    [Fact]
    public void Redelivered_events_change_nothing()
    {
        var once = RunStatus.Submitted(S.RunSubmitted).ApplyAll(Lifecycle());
        var twice = RunStatus.Submitted(S.RunSubmitted).ApplyAll(Lifecycle().SelectMany(e => new[] { e, e }).Prepend(S.RunSubmitted));

        Assert.Equal(Json(once), Json(twice));
    }

    [Fact]
    public void Events_arriving_out_of_order_give_the_same_status()
    {
        IRunEvent[] shuffled =
        [
            S.ShardExtracted(1), S.ShardExtracted(0), S.TrainingStarted, S.FeaturesReady,
            S.EpochCompleted(2), S.EpochCompleted(1), S.EpochCompleted(3), S.TrainingCompleted,
            S.EvaluationCompleted, S.RunCompleted,
        ];

        var inOrder = RunStatus.Submitted(S.RunSubmitted).ApplyAll(Lifecycle());
        var outOfOrder = RunStatus.Submitted(S.RunSubmitted).ApplyAll(shuffled);

        Assert.Equal(Json(inOrder), Json(outOfOrder));
    }

    [Fact]
    public void The_stage_and_progress_never_go_back()
    {
        var training = RunStatus.Submitted(S.RunSubmitted).ApplyAll([S.FeaturesReady, S.TrainingStarted, S.EpochCompleted(2)]);

        var late = training.Apply(S.ShardExtracted(0)).Apply(S.EpochCompleted(1));

        Assert.Equal(RunStage.Training, late.Stage);
        Assert.Equal(training.Progress, late.Progress);
        Assert.Equal([1, 2], late.Training.History.Select(h => h.Epoch));
        Assert.Equal(2, late.Training.BestEpoch);
    }

    [Fact]
    public void A_failed_run_keeps_its_error_and_ignores_what_comes_after()
    {
        var failed = RunStatus.Submitted(S.RunSubmitted)
            .ApplyAll([S.ShardExtracted(0), S.ShardExtracted(1), S.FeaturesReady, S.TrainingStarted, S.RunFailed]);

        var after = failed.ApplyAll([S.EpochCompleted(1), S.TrainingCompleted, S.RunCompleted, S.RunCancelled]);

        Assert.Equal(RunStage.Failed, after.Stage);
        Assert.Equal(S.RunFailed.Timestamp, after.Timestamps.FinishedAt);
        var error = Assert.Single(after.Errors);
        Assert.Equal((RunStage.Training, "no train clips left after rejections", "System.InvalidOperationException"),
            (error.Stage, error.Message, error.ExceptionType));
        Assert.Equal(Json(failed), Json(after));
        Assert.Equal(0.2, after.Progress, 12);
    }

    [Fact]
    public void A_cancelled_run_says_where_it_stopped_and_why()
    {
        var cancelled = RunStatus.Submitted(S.RunSubmitted).ApplyAll([S.ShardExtracted(0), S.RunCancelled]);

        Assert.Equal(RunStage.Cancelled, cancelled.Stage);
        Assert.Equal("Cancelled: superseded by a larger run", Assert.Single(cancelled.Errors).Message);
        Assert.True(cancelled.Stage.IsTerminal());
    }

    [Fact]
    public void A_run_whose_features_were_already_there_goes_straight_to_training()
    {
        var submitted = S.RunSubmitted with { ShardCount = 0, RejectedClips = [] };

        var status = RunStatus.Submitted(submitted).Apply(S.FeaturesReady with { Reused = true });

        Assert.Equal((RunStage.Training, 0.2), (status.Stage, status.Progress));
        Assert.Equal((true, true, 9), (status.Features.Ready, status.Features.Reused, status.Features.ClipsExtracted));
        Assert.Empty(status.Features.CompletedShards);
    }

    [Fact]
    public void A_reused_store_s_audio_rejections_join_the_run_s_once()
    {
        var datasetLevel = new ClipRejection("datasets/demo/notes.wav", "file name does not follow the CREMA-D scheme", RejectionStage.Dataset);
        var audio = new ClipRejection("datasets/demo/AudioWAV/1003_IEO_SAD_LO.wav", "not a RIFF/WAVE file", RejectionStage.Audio);
        var submitted = S.RunSubmitted with { ShardCount = 0, RejectedClips = [datasetLevel] };
        var ready = S.FeaturesReady with { Reused = true, ReusedAudioRejections = [audio] };
        Assert.Empty(ready.FindProblems());

        var status = RunStatus.Submitted(submitted).Apply(ready).Apply(ready);

        Assert.Equal([datasetLevel, audio], status.RejectedClips);
        Assert.Equal(1, status.Features.ClipsRejected);
        var notReused = S.FeaturesReady with { Reused = false, ReusedAudioRejections = [audio] };
        Assert.Contains(notReused.FindProblems(), p => p.Contains("only for a reused feature store", StringComparison.Ordinal));
    }

    [Fact]
    public void The_trainer_that_took_the_run_is_named_and_a_resumption_elsewhere_renames_it()
    {
        var status = RunStatus.Submitted(S.RunSubmitted).ApplyAll([S.FeaturesReady, S.TrainingStarted]);
        Assert.Equal("trainer (host-1, pid 4242)", status.Training.Worker);

        var resumed = status.Apply(S.TrainingStarted with { StartEpoch = 2, Worker = "trainer (host-2, pid 7)" });
        Assert.Equal("trainer (host-2, pid 7)", resumed.Training.Worker);
        Assert.Equal("trainer (host-2, pid 7)", resumed.Apply(S.TrainingStarted with { Worker = null }).Training.Worker);
        Assert.Contains((S.TrainingStarted with { Worker = new string('w', 201) }).FindProblems(),
            p => p.StartsWith("worker must be at most 200", StringComparison.Ordinal));
    }

    [Fact]
    public void An_event_of_another_run_is_refused()
    {
        var status = RunStatus.Submitted(S.RunSubmitted);

        var error = Assert.Throws<ArgumentException>(() => status.Apply(S.FeaturesReady with { RunId = Guid.NewGuid() }));

        Assert.Contains($"not run {S.RunId:D}", error.Message);
    }
}
