namespace CremaD.Contracts;

/// <summary>
/// The body of <c>POST /sweeps</c>: a speaker-independent k-fold cross-validation of one recipe on one dataset. Each
/// fold is submitted as its own run (its dataset reference names the fold, <see cref="FoldRef"/>), so the folds'
/// feature extraction, training and evaluation are separate jobs that several trainer replicas take in parallel.
/// </summary>
/// <param name="Dataset">A dataset name or a blob prefix ending with '/' (as <see cref="SubmitRunRequest"/>).</param>
/// <param name="Folds">Number of folds, 3..<see cref="FoldRef.MaxCount"/>.</param>
/// <param name="FoldSeed">Seed of the actor shuffle that forms the folds.</param>
public sealed record SubmitSweepRequest(string? Dataset, int Folds = 5, RunConfig? Config = null, string? Name = null, int FoldSeed = 42,
    DatasetLayoutChoice Layout = DatasetLayoutChoice.Auto, int SplitSeed = 42, LabelSourceChoice LabelsFrom = LabelSourceChoice.Acted);

/// <summary>The answer to <c>POST /sweeps</c>: the sweep and its runs, fold 1 first.</summary>
public sealed record SubmitSweepResponse(Guid SweepId, string Status, IReadOnlyList<Guid> RunIds);

/// <summary>What the runs API keeps of a sweep (<c>sweeps/&lt;id&gt;.json</c>): its runs, fold 1 first.</summary>
public sealed record SweepRecord(Guid SweepId, string? Name, string Dataset, int Folds, int FoldSeed, RunConfig Config, IReadOnlyList<Guid> RunIds,
    DateTimeOffset SubmittedAt, string Submitter);

/// <summary>One fold of <c>GET /sweeps/{id}</c>.</summary>
/// <param name="Worker">The trainer that took the fold's run (<see cref="TrainingStageStatus.Worker"/>), once one has.</param>
public sealed record SweepFoldStatus(int Fold, Guid RunId, RunStage Stage, double Progress, double? Accuracy, double? MacroF1, string? Worker = null);

/// <summary>
/// <c>GET /sweeps/{id}</c>: every fold's run, and over the completed folds the mean and sample standard deviation of
/// test accuracy and macro-F1. <see cref="Stage"/> is completed when every fold completed, failed when one failed or
/// was cancelled, running otherwise. The merged model card (every fold's test speakers) is at
/// <c>GET /sweeps/{id}/model_card.json</c> (and <c>.md</c>, <c>.png</c>) once every fold completed. <c>GET /sweeps</c>
/// lists them, newest submission first.
/// </summary>
public sealed record SweepStatus(Guid SweepId, string? Name, string Dataset, int Folds, int FoldSeed, RunConfig Config, RunStage Stage,
    int CompletedFolds, IReadOnlyList<SweepFoldStatus> FoldRuns, double? AccuracyMean, double? AccuracySd, double? MacroF1Mean, double? MacroF1Sd,
    DateTimeOffset SubmittedAt = default, string? Submitter = null);
