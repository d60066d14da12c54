using CremaD.Contracts;
using MassTransit;

namespace CremaD.Runs;

/// <summary>
/// Queue <c>run-events</c>: every event the services publish about a run, folded into its status; the ones that end a
/// stage move the run on.
/// </summary>
public sealed class RunEventsConsumer(RunCoordinator coordinator) :
    IConsumer<FeatureShardExtracted>,
    IConsumer<TrainingStarted>,
    IConsumer<TrainingEpochCompleted>,
    IConsumer<TrainingCompleted>,
    IConsumer<EvaluationCompleted>,
    IConsumer<RunFailed>
{
    public Task Consume(ConsumeContext<FeatureShardExtracted> context) => coordinator.OnShardExtractedAsync(context.Message, context);

    public Task Consume(ConsumeContext<TrainingStarted> context) => coordinator.ApplyAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<TrainingEpochCompleted> context) => coordinator.ApplyAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<TrainingCompleted> context) => coordinator.OnTrainingCompletedAsync(context.Message, context);

    public Task Consume(ConsumeContext<EvaluationCompleted> context) => coordinator.OnEvaluationCompletedAsync(context.Message, context);

    public Task Consume(ConsumeContext<RunFailed> context) => coordinator.ApplyAsync(context.Message, context.CancellationToken);
}
