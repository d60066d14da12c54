namespace CremaD.Training.Service;

/// <summary>
/// The trainer's record that a run is not to be trained (further), at <see cref="Contracts.BlobLayout.TrainingStopKey"/>.
/// </summary>
/// <param name="Reason">"cancelled: …" or "failed: …", for the log of the trainer that drops the run's request.</param>
public sealed record TrainingStop(Guid RunId, string Reason, DateTimeOffset Timestamp);
