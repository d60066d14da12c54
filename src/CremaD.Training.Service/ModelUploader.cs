using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Telemetry;

namespace CremaD.Training.Service;

/// <summary>
/// Puts files of a model directory into a folder of the run's model prefix, the trainer's own generation's
/// (<see cref="ModelUploads"/> decides which and when, <see cref="CheckpointFence"/> which folder).
/// </summary>
public sealed class ModelUploader(IBlobStore blobs)
{
    /// <summary>
    /// Uploads <paramref name="names"/> from <paramref name="sourceDirectory"/>, the checkpoint last, so that a stored
    /// checkpoint never refers to files not yet stored.
    /// </summary>
    /// <exception cref="TrainingStepException">An upload failed; the message names the blob.</exception>
    public async Task UploadAsync(Guid runId, string sourceDirectory, IEnumerable<string> names, string modelPrefix, CancellationToken cancellationToken)
    {
        using var upload = CremaDTelemetry.Training.StartRunActivity("blob upload model", runId);
        var ordered = names.OrderBy(name => name == ModelFiles.Checkpoint ? 1 : 0).ThenBy(name => name, StringComparer.Ordinal).ToList();
        long bytes = 0;
        foreach (var name in ordered)
        {
            var path = Path.Combine(sourceDirectory, name);
            bytes += new FileInfo(path).Length;
            var key = BlobLayout.FileKey(modelPrefix, name);
            await TrainingStep.RunAsync($"uploading '{key}'", () => blobs.UploadFileAsync(key, path, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        upload?.SetTag("cremad.files", ordered.Count);
        upload?.SetTag("cremad.bytes", bytes);
    }
}
