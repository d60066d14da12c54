using CremaD.Storage;

namespace CremaD.Training.Service;

/// <summary>Settings of the trainer (configuration section <see cref="SectionName"/>).</summary>
public sealed record TrainerOptions
{
    public const string SectionName = "Trainer";

    /// <summary>How often the worker looks for pending training requests (it is also woken when one arrives locally).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lease on a run while training it (15–60 s); renewed every third of it. A dead trainer's run is free after this.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Least time between two checkpoint uploads during training (the first epoch's and the final one are always stored).
    /// Each upload costs the training CPU on a small machine (copy, HTTP, the storage emulator); a trainer that dies loses
    /// at most this much training plus an epoch, which the next one redoes exactly from the last stored checkpoint.
    /// Zero: after every epoch.
    /// </summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Threads to train with; null: every core this container may use (<see cref="Environment.ProcessorCount"/>, which
    /// honours container CPU limits), so a trainer's speed follows the cores it is given. See TrainingOptions.Threads.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>The thread count a training run gets: <see cref="Threads"/>, or every core of the container.</summary>
    public int TrainingThreads => Threads ?? Environment.ProcessorCount;

    /// <summary>
    /// Attempts on one run whose trainer process may die in a row (they started and never ended, with no epoch stored in
    /// between) before the run is failed, naming the step they died in, instead of being taken up again for ever
    /// (<see cref="TrainingAttempts"/>). Attempts that fail on storage or the broker do not count: those are retried for
    /// as long as the outage lasts.
    /// </summary>
    public int MaxCrashedAttempts { get; init; } = 3;

    /// <summary>Wait before the first retry of a failed attempt; doubled after each further failure, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between two attempts on a run while storage or the broker fails.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Which trainer this is, as a run's status reports it (<see cref="CremaD.Contracts.TrainingStarted.Worker"/>): with
    /// several replicas, whose run was trained where. Default: <see cref="DefaultWorkerName"/>.
    /// </summary>
    public string? WorkerName { get; init; }

    /// <summary>The name <see cref="WorkerName"/> defaults to: the service's name, the machine and the process id.</summary>
    public static string DefaultWorkerName(string? serviceName) =>
        $"{(string.IsNullOrWhiteSpace(serviceName) ? "trainer" : serviceName)} ({Environment.MachineName}, pid {Environment.ProcessId})";

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (WorkerName is { Length: > CremaD.Contracts.TrainingStarted.MaxWorkerLength })
            throw new ArgumentException($"{SectionName}:WorkerName must be at most {CremaD.Contracts.TrainingStarted.MaxWorkerLength} characters.");
        BlobLeaseDuration.Validate(LeaseDuration);
        if (PollInterval <= TimeSpan.Zero) throw new ArgumentException($"{SectionName}:PollInterval must be positive, got {PollInterval}.");
        if (CheckpointInterval < TimeSpan.Zero) throw new ArgumentException($"{SectionName}:CheckpointInterval must not be negative, got {CheckpointInterval}.");
        if (Threads is < 1) throw new ArgumentException($"{SectionName}:Threads must be at least 1, got {Threads}.");
        if (MaxCrashedAttempts < 1) throw new ArgumentException($"{SectionName}:MaxCrashedAttempts must be at least 1, got {MaxCrashedAttempts}.");
        if (RetryDelay < TimeSpan.Zero || MaxRetryDelay < RetryDelay)
        {
            throw new ArgumentException($"{SectionName}:RetryDelay ({RetryDelay}) must be non-negative and at most {SectionName}:MaxRetryDelay ({MaxRetryDelay}).");
        }
    }
}
