using CremaD.Contracts;
using MassTransit;

namespace CremaD.Runs;

/// <summary>
/// Queue <c>run-command-faults</c>: the Fault events MassTransit publishes when a work command went to its error queue
/// (malformed, or failing after every retry); the run then fails with the reason.
/// </summary>
public sealed class RunCommandFaultsConsumer(RunCoordinator coordinator) :
    IConsumer<Fault<SubmitRun>>,
    IConsumer<Fault<ExtractFeatureShard>>,
    IConsumer<Fault<TrainModel>>,
    IConsumer<Fault<EvaluateModel>>
{
    public Task Consume(ConsumeContext<Fault<SubmitRun>> context) => coordinator.OnCommandFaultAsync(context.Message, RunStage.Submitted, context);

    public Task Consume(ConsumeContext<Fault<ExtractFeatureShard>> context) => coordinator.OnCommandFaultAsync(context.Message, RunStage.Features, context);

    public Task Consume(ConsumeContext<Fault<TrainModel>> context) => coordinator.OnCommandFaultAsync(context.Message, RunStage.Training, context);

    public Task Consume(ConsumeContext<Fault<EvaluateModel>> context) => coordinator.OnCommandFaultAsync(context.Message, RunStage.Evaluation, context);
}
