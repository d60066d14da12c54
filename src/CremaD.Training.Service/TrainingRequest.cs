using CremaD.Contracts;

namespace CremaD.Training.Service;

/// <summary>
/// A training a trainer is to do: the command, and the trace it belongs to (the worker that picks it up later
/// continues that trace). Stored at <see cref="BlobLayout.TrainingRequestKey"/> until the training is done.
/// </summary>
/// <param name="TraceParent">W3C traceparent of the span that consumed the command, when traced.</param>
public sealed record TrainingRequest(TrainModel Command, string? TraceParent, DateTimeOffset RequestedAt);
