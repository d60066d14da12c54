using CremaD.Datasets;
using TorchSharp;
using System.Text.Json;
using CremaD.Evaluation;
using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>The part of a checkpoint that is not tensors: where the run stands and how it was configured.</summary>
internal sealed record CheckpointState(
    TrainingOptions Options,
    string DataFingerprint,
    IReadOnlyList<string> ClassNames,
    int CompletedEpochs,
    double NextLearningRate,
    int BestEpoch,
    double BestValidationAccuracy,
    int EpochsWithoutImprovement,
    bool Finished,
    bool StoppedEarly,
    IReadOnlyList<EpochRecord> History);

/// <summary>
/// last_checkpoint: one file, replaced atomically after every epoch, holding a run's state (JSON), the current
/// weights and AdamW state, and the best weights so far. No random-generator state is needed: every epoch reseeds
/// from (seed, epoch) (<see cref="Seeds"/>), and the schedule is replayed from the epoch count.
/// </summary>
internal static class Checkpoint
{
    private const string Magic = "CremaD.TrainingCheckpoint";
    private const int FormatVersion = 1;

    public static void Write(string path, CheckpointState state, TrainingSession session, IReadOnlyDictionary<string, Tensor> bestWeights) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(JsonSerializer.Serialize(state, ModelFiles.Json));
            session.Save(writer);
            writer.Write(bestWeights.Count);
            foreach (var (name, weight) in bestWeights)
            {
                writer.Write(name);
                weight.Save(writer);
            }
            writer.Flush();
        });

    /// <summary>Reads only the state, to validate a resume request before building anything.</summary>
    public static CheckpointState ReadState(string path) => Open(path, (_, state) => state);

    /// <summary>Restores <paramref name="session"/> and returns the best weights (on the session's device).</summary>
    public static Dictionary<string, Tensor> Restore(string path, CheckpointState state, TrainingSession session) =>
        Open(path, (reader, _) =>
        {
            try
            {
                session.Restore(reader, state.CompletedEpochs, state.NextLearningRate, path);
                var count = reader.ReadInt32();
                var best = new Dictionary<string, Tensor>(count);
                for (var i = 0; i < count; i++)
                {
                    var name = reader.ReadString();
                    using var loaded = Tensor.Load(reader);
                    best[name] = session.ToDevice(loaded).detach().clone();
                }
                return best;
            }
            catch (Exception e) when (e is EndOfStreamException or ArgumentException or InvalidOperationException)
            {
                throw new InvalidDataException($"Checkpoint '{path}' is damaged or belongs to a different model: {e.Message}", e);
            }
        });

    private static T Open<T>(string path, Func<BinaryReader, CheckpointState, T> read)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint at '{path}'.", path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8);
        CheckpointState? state;
        try
        {
            if (reader.ReadString() != Magic) throw new InvalidDataException($"'{path}' is not a CremaD training checkpoint.");
            var version = reader.ReadInt32();
            if (version != FormatVersion)
                throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this build reads version {FormatVersion}.");
            state = JsonSerializer.Deserialize<CheckpointState>(reader.ReadString(), ModelFiles.Json);
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"Checkpoint '{path}' cannot be read: {e.Message}", e);
        }
        if (state?.Options is null || state.History is null || state.ClassNames is null)
            throw new InvalidDataException($"Checkpoint '{path}' has an incomplete state record.");
        return read(reader, state);
    }
}
