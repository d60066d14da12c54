using CremaD.Contracts;
using CremaD.Runs;

namespace CremaD.Training.Service;

/// <summary>Blob keys of the trainer's durable work list.</summary>
public static class TrainingRequests
{
    /// <summary>Folder of pending training requests, one blob per run: what trainer workers poll.</summary>
    public const string RequestsPrefix = "work/training/";

    public static string RequestKey(Guid runId) => $"{RequestsPrefix}{runId:N}.json";

    /// <summary>The run a request key is for, or null when the key is not one <see cref="RequestKey"/> makes.</summary>
    public static Guid? RunIdOf(string requestKey)
    {
        ArgumentNullException.ThrowIfNull(requestKey);
        if (!requestKey.StartsWith(RequestsPrefix, StringComparison.Ordinal) || !requestKey.EndsWith(".json", StringComparison.Ordinal)) return null;
        return Guid.TryParseExact(requestKey[RequestsPrefix.Length..^".json".Length], "N", out var runId) ? runId : null;
    }

    /// <summary>The lock a trainer holds (renewing it) while it trains a run.</summary>
    public static string LeaseKey(Guid runId) => BlobLayout.RunPrefix(runId) + "trainer.lease";

    /// <summary>The <see cref="TrainingCompleted"/> of a finished training, written before it is published.</summary>
    public static string ResultKey(string modelPrefix) => modelPrefix + "training-result.json";

    /// <summary>Where the trained model goes for a TrainModel command.</summary>
    public static string ModelPrefix(TrainModel command) => command.OutputPrefix + RunCoordinator.ModelFolder;
}
