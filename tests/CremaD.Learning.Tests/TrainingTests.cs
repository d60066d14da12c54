using CremaD.Evaluation;
using static TorchSharp.torch;

namespace CremaD.Learning.Tests;

public sealed class TrainingTests
{
    /// <summary>Everything but the wall-clock seconds, which no two runs share.</summary>
    private static object[] Comparable(EpochRecord record) =>
        [record.Epoch, record.TrainLoss, record.TrainAccuracy, record.ValidationLoss, record.ValidationAccuracy, record.LearningRate];

    private static void AssertSameHistory(IReadOnlyList<EpochRecord> expected, IReadOnlyList<EpochRecord> actual) =>
        Assert.Equal(expected.Select(Comparable), actual.Select(Comparable));

    [Theory]
    [InlineData(TrainingLoop.Reference, 1)]
    [InlineData(TrainingLoop.Fast, 1)]
    [InlineData(TrainingLoop.Fast, 2)]
    [InlineData(TrainingLoop.Fast, 4)]
    public void TrainingLearnsTheSyntheticClassesAndBeatsChanceOnHeldOutClips(TrainingLoop loop, int threads)
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data();
        var result = Trainer.Train(data, SyntheticData.TinyOptions(loop, epochs: 6) with { Threads = threads }, directory.Path);
        Assert.Equal(threads, result.Threads);

        Assert.Equal(6, result.EpochsRun);
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss,
            $"loss went from {result.History[0].TrainLoss} to {result.History[^1].TrainLoss}");
        var heldOut = SyntheticData.Clips(30, seed: 777, "heldout");
        using var predictor = Predictor.Load(directory.Path, DeviceChoice.Cpu);
        var predictions = predictor.Evaluate(heldOut);
        Assert.True(predictions.Accuracy >= 0.6, $"held-out accuracy {predictions.Accuracy} (chance is 1/3)");
    }

    [Theory]
    [InlineData(TrainingLoop.Reference, 1)]
    [InlineData(TrainingLoop.Fast, 1)]
    [InlineData(TrainingLoop.Fast, 2)]
    [InlineData(TrainingLoop.Fast, 4)]
    public void SameSeedGivesTheSameHistoryAndWeights(TrainingLoop loop, int threads)
    {
        using var first = new TemporaryDirectory();
        using var second = new TemporaryDirectory();
        using var third = new TemporaryDirectory();
        var data = SyntheticData.Data();
        var options = SyntheticData.TinyOptions(loop, epochs: 3) with { Threads = threads };
        var a = Trainer.Train(data, options, first.Path);
        var b = Trainer.Train(data, options, second.Path);
        AssertSameHistory(a.History, b.History);
        Assert.Equal(File.ReadAllBytes(a.BestModelPath), File.ReadAllBytes(b.BestModelPath));

        var other = Trainer.Train(data, options with { Seed = options.Seed + 1 }, third.Path);
        Assert.NotEqual(a.History.Select(Comparable), other.History.Select(Comparable));
    }

    [Theory]
    [InlineData(TrainingLoop.Reference, 1)]
    [InlineData(TrainingLoop.Fast, 1)]
    [InlineData(TrainingLoop.Fast, 4)]
    public void ResumingAStoppedRunEndsExactlyLikeAnUninterruptedOne(TrainingLoop loop, int threads)
    {
        using var whole = new TemporaryDirectory();
        using var interrupted = new TemporaryDirectory();
        var data = SyntheticData.Data();
        var options = SyntheticData.TinyOptions(loop, epochs: 4) with { Threads = threads };

        var uninterrupted = Trainer.Train(data, options, whole.Path);

        using var stop = new CancellationTokenSource();
        var stopAfterTwo = new Observer { OnEpoch = progress => { if (progress.Record.Epoch == 2) stop.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(data, options, interrupted.Path, stopAfterTwo, stop.Token));
        Assert.True(Trainer.HasCheckpoint(interrupted.Path));
        Assert.Equal(2, TrainingHistory.Read(Path.Combine(interrupted.Path, ArtifactNames.History)).Count);

        var seen = new Observer();
        var resumed = Trainer.Resume(data, interrupted.Path, seen);
        Assert.Equal(3, seen.Started!.FirstEpoch);
        Assert.Equal([3, 4], seen.Epochs.Select(e => e.Record.Epoch));

        AssertSameHistory(uninterrupted.History, resumed.History);
        Assert.Equal(uninterrupted.BestEpoch, resumed.BestEpoch);
        Assert.Equal(File.ReadAllBytes(uninterrupted.BestModelPath), File.ReadAllBytes(resumed.BestModelPath));
        AssertSameTensors(LastWeights(whole.Path, data), LastWeights(interrupted.Path, data));
    }

    [Fact]
    public void EarlyStoppingKeepsTheBestEpochsWeights()
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data();
        // A learning rate this small cannot move validation accuracy: epoch 1 stays best and patience runs out.
        var options = SyntheticData.TinyOptions(TrainingLoop.Fast, epochs: 20) with { LearningRate = 1e-12, Patience = 2 };
        var observer = new Observer();
        var result = Trainer.Train(data, options, directory.Path, observer);

        Assert.True(result.StoppedEarly);
        Assert.Equal(3, result.EpochsRun);
        Assert.Equal(1, result.BestEpoch);
        Assert.True(observer.Epochs[^1].Stopping);
        Assert.Equal([true, false, false], observer.Epochs.Select(e => e.Improved));
        var manifest = ModelManifest.Read(result.ManifestPath);
        Assert.Equal(1, manifest.Training!.BestEpoch);
        Assert.True(manifest.Training.StoppedEarly);
        Assert.Equal(3, manifest.Training.EpochsRun);

        // Resuming a finished run trains nothing more.
        var again = Trainer.Resume(data, directory.Path);
        AssertSameHistory(result.History, again.History);
    }

    [Fact]
    public void ObserverSeesEveryStepAndEpoch()
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data(trainClips: 20, validationClips: 6);
        var observer = new Observer();
        Trainer.Train(data, SyntheticData.TinyOptions(TrainingLoop.Reference, epochs: 2), directory.Path, observer);
        Assert.Equal(3, observer.Started!.BatchesPerEpoch);
        Assert.Equal(6, observer.Batches.Count);
        Assert.Equal([1, 2, 3, 1, 2, 3], observer.Batches.Select(b => b.Batch));
        Assert.Equal(20, observer.Batches[2].ClipsDone);
        Assert.All(observer.Batches, b => Assert.True(double.IsFinite(b.Loss)));
        Assert.Equal(2, observer.Epochs.Count);
        Assert.Equal(1e-2, observer.Epochs[0].Record.LearningRate);
        Assert.True(observer.Epochs[1].Record.LearningRate < 1e-2); // cosine schedule stepped once per epoch
    }

    [Fact]
    public void ResumeRefusesDifferentData()
    {
        using var directory = new TemporaryDirectory();
        var data = SyntheticData.Data(trainClips: 12, validationClips: 6);
        var stopAfterOne = new Observer { OnEpoch = _ => throw new OperationCanceledException() };
        Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(data, SyntheticData.TinyOptions(TrainingLoop.Fast, epochs: 3), directory.Path, stopAfterOne));
        var other = SyntheticData.Data(trainClips: 12, validationClips: 6, seed: 99);
        var error = Assert.Throws<InvalidDataException>(() => Trainer.Resume(other, directory.Path));
        Assert.Contains("different data", error.Message);
    }

    private static Dictionary<string, Tensor> LastWeights(string directory, TrainingData data)
    {
        var path = Path.Combine(directory, ModelFiles.Checkpoint);
        var state = Checkpoint.ReadState(path);
        using var session = new TrainingSession(data, state.Options);
        foreach (var best in Checkpoint.Restore(path, state, session).Values) best.Dispose();
        return session.Model.state_dict().ToDictionary(entry => entry.Key, entry => entry.Value.detach().clone());
    }

    private static void AssertSameTensors(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, tensor) in expected) Assert.True(tensor.allclose(actual[name], rtol: 0, atol: 0), $"{name} differs");
    }

    internal sealed class Observer : ITrainingObserver
    {
        public TrainingStarted? Started { get; private set; }
        public List<BatchProgress> Batches { get; } = [];
        public List<EpochProgress> Epochs { get; } = [];
        public Action<EpochProgress>? OnEpoch { get; init; }

        public void OnTrainingStarted(TrainingStarted started) => Started = started;
        public void OnBatchCompleted(BatchProgress progress) => Batches.Add(progress);

        public void OnEpochCompleted(EpochProgress progress)
        {
            Epochs.Add(progress);
            OnEpoch?.Invoke(progress);
        }
    }
}
