using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>Training as a stage: a feature store in, a model directory (best_model, model.json, history, checkpoint) out.</summary>
public static class TrainingStage
{
    /// <summary>The train and validation partitions of a feature store, with its train-set normalisation.</summary>
    /// <exception cref="InvalidDataException">The store is incomplete or lacks what training needs; the message says which.</exception>
    public static TrainingData LoadData(FeatureStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!store.HasNormalisation)
            throw new InvalidDataException($"{store.Directory}: the feature store has no normalisation (its train partition is empty).");
        return new TrainingData(store.LoadPartition(Partition.Train), store.LoadPartition(Partition.Validation),
            store.Normalisation, ClassNames.ForModel);
    }

    /// <summary>
    /// Trains on <paramref name="store"/> into <paramref name="modelDirectory"/>. With <paramref name="resume"/> and a
    /// checkpoint there, the interrupted run is continued (same options as it started with, except device and threads).
    /// </summary>
    public static TrainingResult Run(FeatureStore store, string modelDirectory, TrainingOptions options, bool resume,
        ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        var data = LoadData(store);
        if (resume && Trainer.HasCheckpoint(modelDirectory))
            return Trainer.Resume(data, modelDirectory, observer, cancellationToken, options.Device, options.Threads);
        return Trainer.Train(data, options, modelDirectory, observer, cancellationToken);
    }
}
