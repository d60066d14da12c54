namespace CremaD.Training.Service;

/// <summary>
/// Runs a storage or broker call of a training attempt, turning its failure (anything but the attempt being stopped by
/// <c>cancellationToken</c>, or fenced out by another trainer: <see cref="TrainingFencedException"/>) into a
/// <see cref="TrainingStepException"/> that names the step: the attempt is then retried after a back-off.
/// </summary>
public static class TrainingStep
{
    public static async Task<T> RunAsync<T>(string step, Func<Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not TrainingStepException && e is not TrainingFencedException
                                  && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw new TrainingStepException(step, e);
        }
    }

    public static Task RunAsync(string step, Func<Task> action, CancellationToken cancellationToken) =>
        RunAsync(step, async () =>
        {
            await action().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Deletes a request from the work list, as a step.</summary>
    public static Task DeleteRequestAsync(Storage.IBlobStore blobs, string requestKey, CancellationToken cancellationToken) =>
        RunAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, cancellationToken), cancellationToken);
}
