using CremaD.Evaluation;

namespace CremaD.Learning;

/// <summary>
/// Receives training progress. Called on the training thread between steps: keep handlers short and do not touch
/// the model from them. All members have empty defaults, so an observer implements only what it shows.
/// </summary>
public interface ITrainingObserver
{
    /// <summary>Once, before the first epoch runs (after a resume: before the first remaining epoch).</summary>
    void OnTrainingStarted(TrainingStarted started) { }

    /// <summary>After every optimiser step.</summary>
    void OnBatchCompleted(BatchProgress progress) { }

    /// <summary>After every epoch, once its checkpoint is on disk.</summary>
    void OnEpochCompleted(EpochProgress progress) { }
}

/// <param name="FirstEpoch">1-based number of the next epoch (greater than 1 when resuming).</param>
/// <param name="Device">"cpu" or "cuda".</param>
public sealed record TrainingStarted(
    TrainingOptions Options,
    int FirstEpoch,
    int TrainClips,
    int ValidationClips,
    int BatchesPerEpoch,
    string Device,
    int Threads);

/// <param name="Batch">1-based index of the step just taken; <paramref name="Batches"/> steps make the epoch.</param>
/// <param name="Loss">That step's training loss.</param>
public sealed record BatchProgress(int Epoch, int Batch, int Batches, int ClipsDone, int Clips, double Loss);

/// <param name="Improved">Whether this epoch set a new best validation accuracy (and so replaced best_model).</param>
/// <param name="Stopping">Whether training ends after this epoch (early stop or last epoch).</param>
public sealed record EpochProgress(
    EpochRecord Record,
    bool Improved,
    int BestEpoch,
    double BestValidationAccuracy,
    int EpochsWithoutImprovement,
    bool Stopping);
