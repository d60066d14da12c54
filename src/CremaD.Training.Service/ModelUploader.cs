using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Storage;
using CremaD.Telemetry;

namespace CremaD.Training.Service;

/// <summary>Puts a model directory into its model prefix: after every epoch (the checkpoint) and when training ends.</summary>
public sealed class ModelUploader(IBlobStore blobs)
{
    /// <summary>Every file of the model directory, the checkpoint last (so the checkpoint never refers to files not yet stored).</summary>
    /// <exception cref="TrainingStepException">An upload failed; the message names the blob.</exception>
    public async Task UploadAsync(Guid runId, string modelDirectory, string modelPrefix, CancellationToken cancellationToken)
    {
        using var upload = CremaDTelemetry.Training.StartRunActivity("blob upload model", runId);
        var files = Directory.GetFiles(modelDirectory).Select(Path.GetFileName).OfType<string>()
            .OrderBy(name => name == ModelFiles.Checkpoint ? 1 : 0).ThenBy(name => name, StringComparer.Ordinal).ToList();
        long bytes = 0;
        foreach (var name in files)
        {
            var path = Path.Combine(modelDirectory, name);
            bytes += new FileInfo(path).Length;
            var key = BlobLayout.FileKey(modelPrefix, name);
            await TrainingStep.RunAsync($"uploading '{key}'", () => blobs.UploadFileAsync(key, path, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        upload?.SetTag("cremad.files", files.Count);
        upload?.SetTag("cremad.bytes", bytes);
    }
}
