using CremaD.Contracts;

namespace CremaD.Contracts.Tests;

/// <summary>
/// A valid, fully populated instance of every message type, shaped like a real run of a small dataset: 10 clips
/// in 2 shards of 5, 3 epochs, 6 classes. Optional fields are filled, so a round trip that dropped one would show.
/// </summary>
internal static class SampleMessages
{
    public static readonly Guid RunId = Guid.Parse("5b1f4c2e-9a7d-4e0b-8c63-2f0d9e1a7b44");
    public static readonly DateTimeOffset Start = new(2026, 11, 23, 9, 30, 0, TimeSpan.Zero);
    public const string Fingerprint = "3fa2c9d01b7e4a55";

    public static readonly DatasetRef Dataset = new("datasets/demo/", DatasetLayoutChoice.Official, SplitSeed: 7);

    public static readonly RunConfig Config = RunConfig.Default with
    {
        Epochs = 3,
        BatchSize = 8,
        LearningRate = 1e-3,
        UseSpecAugment = false,
        Device = RunDevice.Cpu,
        Loop = RunTrainingLoop.Fast,
        ShardSize = 5,
    };

    public static string StorePrefix => BlobLayout.FeatureStorePrefix(Fingerprint, 1);
    public static string RunPrefix => BlobLayout.RunPrefix(RunId);

    public static ShardClip Clip(int i) => new(
        $"datasets/demo/AudioWAV/10{i:D2}_DFA_{Codes[i % 6]}_XX.wav", $"10{i:D2}_DFA_{Codes[i % 6]}_XX", i % 6,
        i < 6 ? ClipPartition.Train : i < 8 ? ClipPartition.Validation : ClipPartition.Test, $"10{i:D2}");

    private static readonly string[] Codes = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];

    public static SubmitRun SubmitRun => new(RunId, Dataset, Config, Start, "demo run");

    public static ExtractFeatureShard ExtractShard(int shard) => new(
        RunId, Dataset, Fingerprint, 1, shard, 2,
        Enumerable.Range(shard * 5, 5).Select(Clip).ToList(),
        BlobLayout.ShardPrefix(StorePrefix, shard, 2, 5));

    public static TrainModel TrainModel => new(RunId, StorePrefix, StorePrefix + "normalisation.json", Config, RunPrefix);

    public static EvaluateModel EvaluateModel => new(RunId, RunPrefix + "model/", StorePrefix, RunPrefix + "artifacts/", Config,
        new TrainingSummary("cpu", 3, 2, 0.35, StoppedEarly: false),
        new RunTimestamps(Start, Start.AddSeconds(2), Start.AddSeconds(15), Start.AddSeconds(20), Start.AddSeconds(30), null, null, Start.AddSeconds(30)));

    public static CancelRun CancelRun => new(RunId, Start.AddMinutes(30), "superseded by a larger run");

    public static RunSubmitted RunSubmitted => new(
        RunId, Dataset, Config, "demo run", Fingerprint, StorePrefix, 10, 2,
        [new ClipRejection("datasets/demo/AudioWAV/readme.wav", "the file name does not follow the CREMA-D scheme", RejectionStage.Dataset)],
        Start, Start.AddSeconds(2));

    /// <summary>Shard 0 has train clips 0-4; its last clip is rejected. Shard 1 has train clip 5, then validation and test clips.</summary>
    public static FeatureShardExtracted ShardExtracted(int shard)
    {
        var clips = ExtractShard(shard).Clips;
        var extracted = new List<ExtractedClip>();
        var rejected = new List<ClipRejection>();
        long offset = 0;
        foreach (var clip in clips)
        {
            if (clip.Id == Clip(4).Id)
            {
                rejected.Add(new ClipRejection(clip.Key, "not a RIFF/WAVE file", RejectionStage.Audio));
                continue;
            }
            var frames = 100 + extracted.Count;
            extracted.Add(new ExtractedClip(clip.Key, clip.Id, clip.Label, clip.Partition, clip.Actor, frames, offset, frames * 0.016,
                clip.Label == 2 ? ["resampled from 44100 Hz"] : []));
            offset += (long)frames * BandMoments.Bands * sizeof(float);
        }
        var train = extracted.Where(c => c.Partition == ClipPartition.Train).ToList();
        var moments = new BandMoments(
            train.Sum(c => (long)c.Frames), train.Count,
            Enumerable.Range(0, BandMoments.Bands).Select(b => -40.0 + b * 0.25 + shard).ToArray(),
            Enumerable.Range(0, BandMoments.Bands).Select(b => 1000.0 + b).ToArray());
        return new FeatureShardExtracted(RunId, shard, 2, BlobLayout.ShardPrefix(StorePrefix, shard, 2, 5) + "features.f32",
            extracted, rejected, moments, extracted.Sum(c => c.DurationSeconds), 1.25 + shard, Start.AddSeconds(10 + shard));
    }

    public static FeaturesReady FeaturesReady => new(
        RunId, StorePrefix, StorePrefix + "normalisation.json", Fingerprint, 9, 5, 2, 2, 2, 506, Reused: false, Start.AddSeconds(15));

    public static TrainingStarted TrainingStarted => new(RunId, "cpu", 3, 1, 5, 2, Start.AddSeconds(20), "trainer (host-1, pid 4242)");

    /// <summary>Validation accuracy rises for two epochs, then falls: epoch 2 stays the best.</summary>
    public static EpochProgress Epoch(int epoch)
    {
        double[] validationAccuracy = [0.30, 0.35, 0.32];
        return new EpochProgress(epoch, 1.8 - 0.2 * epoch, 0.2 + 0.1 * epoch, 1.9 - 0.15 * epoch, validationAccuracy[epoch - 1], 3e-4 / epoch, 2.5,
            BestEpoch: Math.Min(epoch, 2), BestValidationAccuracy: validationAccuracy[Math.Min(epoch, 2) - 1]);
    }

    public static TrainingEpochCompleted EpochCompleted(int epoch) => new(RunId, Epoch(epoch), 3, Start.AddSeconds(20 + 3 * epoch));

    public static TrainingCompleted TrainingCompleted => new(
        RunId, RunPrefix + "model/", RunPrefix + "history.json", 3, 2, 0.35, StoppedEarly: false, 7.5, Start.AddSeconds(30));

    public static EvaluationCompleted EvaluationCompleted => new(
        RunId, 0.5, 0.42,
        [new("anger", 1.0), new("disgust", 0.0), new("fear", 0.5), new("happy", 0.5), new("neutral", 1.0), new("sad", 0.0)],
        2,
        [new("classification_report.json", RunPrefix + "artifacts/classification_report.json"), new("test_metrics.json", RunPrefix + "artifacts/test_metrics.json"),
         new("confusion_matrix.png", RunPrefix + "artifacts/confusion_matrix.png"), new("training_curves.png", RunPrefix + "artifacts/training_curves.png")],
        0.8, Start.AddSeconds(35));

    public static RunCompleted RunCompleted => new(RunId, RunPrefix, 0.5, 0.42, 2, 36, Start.AddSeconds(36));

    public static RunFailed RunFailed => new(RunId, RunStage.Training, "no train clips left after rejections",
        "System.InvalidOperationException", Start.AddSeconds(21));

    public static RunCancelled RunCancelled => new(RunId, RunStage.Training, "superseded by a larger run", Start.AddMinutes(30));

    /// <summary>One sample of each message type, by type.</summary>
    public static IReadOnlyDictionary<Type, IRunMessage> ByType { get; } = new IRunMessage[]
    {
        SubmitRun, ExtractShard(1), TrainModel, EvaluateModel, CancelRun,
        RunSubmitted, ShardExtracted(0), FeaturesReady, TrainingStarted, EpochCompleted(2), TrainingCompleted,
        EvaluationCompleted, RunCompleted, RunFailed, RunCancelled,
    }.ToDictionary(message => message.GetType());

    public static TheoryData<Type> AllTypes() => new(RunMessageTypes.All);
}
