using CremaD.Datasets;
using CremaD.Evaluation;
using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>The outcome of a training run. The model directory holds best_model, model.json, history.json and last_checkpoint.</summary>
/// <param name="History">Every epoch run, including those before a resume.</param>
/// <param name="BestEpoch">The epoch whose weights are best_model (highest validation accuracy, earliest on ties).</param>
/// <param name="StoppedEarly">Whether validation accuracy stopped improving for <see cref="TrainingOptions.Patience"/> epochs before the last epoch.</param>
public sealed record TrainingResult(
    IReadOnlyList<EpochRecord> History,
    int BestEpoch,
    double BestValidationAccuracy,
    bool StoppedEarly,
    string ModelDirectory,
    string Device,
    int Threads)
{
    public int EpochsRun => History.Count;
    public string BestModelPath => Path.Combine(ModelDirectory, ModelFiles.BestModel);
    public string ManifestPath => Path.Combine(ModelDirectory, ModelFiles.Manifest);
}

/// <summary>
/// Trains <see cref="SerModel"/> with the recipe of <see cref="TrainingOptions"/>: AdamW, label-smoothed and
/// class-weighted cross-entropy, gradient clipping, cosine schedule, SpecAugment, early stopping on validation
/// accuracy. After every epoch it writes history.json and an atomic checkpoint, and whenever validation accuracy
/// improves it replaces best_model and model.json, so a killed run loses at most the epoch in progress and
/// <see cref="Resume"/> finishes it with exactly the result an uninterrupted run would have had.
/// </summary>
public static class Trainer
{
    /// <summary>Starts a new run in <paramref name="outputDirectory"/>, replacing any earlier run's files there.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; the last completed epoch's checkpoint remains for <see cref="Resume"/>.</exception>
    public static TrainingResult Train(TrainingData data, TrainingOptions options, string outputDirectory,
        ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options.Validate();
        data.Validate();
        Directory.CreateDirectory(outputDirectory);
        // A stale checkpoint or model from an earlier run must not be mistaken for this run's.
        foreach (var name in new[] { ModelFiles.Checkpoint, ModelFiles.BestModel, ModelFiles.Manifest, ArtifactNames.History })
        {
            File.Delete(Path.Combine(outputDirectory, name));
        }

        using var session = new TrainingSession(data, options);
        var run = new RunState(data.Fingerprint(), session);
        return Run(session, run, outputDirectory, observer, cancellationToken);
    }

    /// <summary>True when <paramref name="outputDirectory"/> holds a checkpoint that <see cref="Resume"/> can continue.</summary>
    public static bool HasCheckpoint(string outputDirectory) => File.Exists(Path.Combine(outputDirectory, ModelFiles.Checkpoint));

    /// <summary>
    /// Continues the run whose checkpoint is in <paramref name="outputDirectory"/>, with the options it was started
    /// with (only the device and thread count may be changed; a different thread count gives a valid run that is no
    /// longer bit-identical to an uninterrupted one). The data must be the data the run started on.
    /// A finished run is not trained further; its result is returned.
    /// </summary>
    /// <exception cref="InvalidDataException">No usable checkpoint, or it was made from different data.</exception>
    public static TrainingResult Resume(TrainingData data, string outputDirectory, ITrainingObserver? observer = null,
        CancellationToken cancellationToken = default, DeviceChoice? device = null, int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        var path = Path.Combine(outputDirectory, ModelFiles.Checkpoint);
        if (!File.Exists(path)) throw new InvalidDataException($"Nothing to resume: no checkpoint '{path}'.");
        var state = Checkpoint.ReadState(path);
        data.Validate();
        var fingerprint = data.Fingerprint();
        if (fingerprint != state.DataFingerprint)
            throw new InvalidDataException(
                $"Checkpoint '{path}' was made from different data (features, labels, normalisation or class names differ); resume needs the run's own data.");
        var options = state.Options with
        {
            Device = device ?? state.Options.Device,
            Threads = threads ?? state.Options.Threads,
        };

        using var session = new TrainingSession(data, options);
        var run = new RunState(fingerprint, state, Checkpoint.Restore(path, state, session));
        // A kill between writing best_model and the checkpoint can leave best_model one epoch ahead of the checkpoint;
        // the checkpoint's best weights are authoritative.
        run.WriteBestModel(outputDirectory, session);
        return Run(session, run, outputDirectory, observer, cancellationToken);
    }

    private static TrainingResult Run(TrainingSession session, RunState run, string outputDirectory, ITrainingObserver? observer,
        CancellationToken cancellationToken)
    {
        var options = session.Options;
        observer?.OnTrainingStarted(new TrainingStarted(options, run.CompletedEpochs + 1, session.Data.Train.Count,
            session.Data.Validation.Count, session.BatchesPerEpoch, session.DeviceName, session.Threads));
        var checkpointPath = Path.Combine(outputDirectory, ModelFiles.Checkpoint);
        using var disposeRun = run;

        while (!run.Finished)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var epoch = run.CompletedEpochs + 1;
            var record = session.RunEpoch(epoch, observer, cancellationToken).Record;
            var improved = run.Record(record, session.Model);
            if (improved)
            {
                // Written before the checkpoint, so best_model is never behind it.
                run.WriteBestModel(outputDirectory, session);
            }
            run.Finished = run.EpochsWithoutImprovement >= options.Patience || epoch >= options.Epochs;
            run.StoppedEarly = run.Finished && epoch < options.Epochs;
            TrainingHistory.Write(Path.Combine(outputDirectory, ArtifactNames.History), run.History);
            Checkpoint.Write(checkpointPath, run.ToState(session), session, run.BestWeights);
            observer?.OnEpochCompleted(new EpochProgress(record, improved, run.BestEpoch, run.BestValidationAccuracy,
                run.EpochsWithoutImprovement, run.Finished));
        }

        // The manifest's summary is final only now (epochs run, early stop).
        run.WriteManifest(outputDirectory, session);
        return new TrainingResult(run.History.ToArray(), run.BestEpoch, run.BestValidationAccuracy, run.StoppedEarly,
            Path.GetFullPath(outputDirectory), session.DeviceName, session.Threads);
    }

    /// <summary>Best-so-far tracking, early-stopping counter and history of one run.</summary>
    private sealed class RunState : IDisposable
    {
        private readonly string fingerprint;

        public RunState(string fingerprint, TrainingSession session)
        {
            this.fingerprint = fingerprint;
            BestWeights = Snapshot(session.Model);
        }

        public RunState(string fingerprint, CheckpointState state, Dictionary<string, Tensor> bestWeights)
        {
            this.fingerprint = fingerprint;
            History.AddRange(state.History);
            CompletedEpochs = state.CompletedEpochs;
            BestEpoch = state.BestEpoch;
            BestValidationAccuracy = state.BestValidationAccuracy;
            EpochsWithoutImprovement = state.EpochsWithoutImprovement;
            Finished = state.Finished;
            StoppedEarly = state.StoppedEarly;
            BestWeights = bestWeights;
        }

        public List<EpochRecord> History { get; } = [];
        public int CompletedEpochs { get; private set; }
        public int BestEpoch { get; private set; }
        public double BestValidationAccuracy { get; private set; } = double.NegativeInfinity;
        public int EpochsWithoutImprovement { get; private set; }
        public bool Finished { get; set; }
        public bool StoppedEarly { get; set; }
        public Dictionary<string, Tensor> BestWeights { get; private set; }

        /// <summary>Adds an epoch; returns whether it improved validation accuracy (and so became the best weights).</summary>
        public bool Record(EpochRecord record, SerModel model)
        {
            History.Add(record);
            CompletedEpochs = record.Epoch;
            if (record.ValidationAccuracy > BestValidationAccuracy)
            {
                BestValidationAccuracy = record.ValidationAccuracy;
                BestEpoch = record.Epoch;
                EpochsWithoutImprovement = 0;
                DisposeBest();
                BestWeights = Snapshot(model);
                return true;
            }
            EpochsWithoutImprovement++;
            return false;
        }

        public CheckpointState ToState(TrainingSession session) => new(session.Options, fingerprint, session.Data.ClassNames,
            CompletedEpochs, session.LearningRate, BestEpoch, BestValidationAccuracy, EpochsWithoutImprovement, Finished, StoppedEarly,
            History.ToArray());

        public TrainingSummary Summary(TrainingSession session) => new(BestEpoch, BestValidationAccuracy, CompletedEpochs, StoppedEarly,
            session.Options, session.DeviceName, session.Threads);

        /// <summary>state_dict() returns live aliases of the parameters: the best copy must be detached clones.</summary>
        private static Dictionary<string, Tensor> Snapshot(SerModel model)
        {
            using var noGrad = no_grad();
            return model.state_dict().ToDictionary(entry => entry.Key, entry => entry.Value.detach().clone());
        }

        /// <summary>best_model (module.save format) from the best weights, then model.json describing it.</summary>
        public void WriteBestModel(string outputDirectory, TrainingSession session)
        {
            AtomicFile.Write(Path.Combine(outputDirectory, ModelFiles.BestModel), stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                TorchSharp.torch.nn.Module.save_state_dict(writer, BestWeights);
            });
            WriteManifest(outputDirectory, session);
        }

        public void WriteManifest(string outputDirectory, TrainingSession session) =>
            ModelManifest.Create(session.Model.Options, session.Data.ClassNames, session.Data.Normalisation, Summary(session))
                .Write(Path.Combine(outputDirectory, ModelFiles.Manifest));

        private void DisposeBest()
        {
            foreach (var weight in BestWeights.Values) weight.Dispose();
        }

        public void Dispose() => DisposeBest();
    }
}
