using CremaD.Contracts;
using MassTransit;

namespace CremaD.Services;

/// <summary>Queue <c>submit-run</c> (<see cref="QueueNames.SubmitRun"/>): starts runs.</summary>
public sealed class SubmitRunConsumer(RunCoordinator coordinator) : IConsumer<SubmitRun>
{
    public Task Consume(ConsumeContext<SubmitRun> context) => coordinator.SubmitAsync(context.Message.ThrowIfInvalid(), context);
}

/// <summary>Queue <c>cancel-run</c> (<see cref="QueueNames.CancelRun"/>): cancels runs.</summary>
public sealed class CancelRunConsumer(RunCoordinator coordinator) : IConsumer<CancelRun>
{
    public Task Consume(ConsumeContext<CancelRun> context) => coordinator.CancelAsync(context.Message.ThrowIfInvalid(), context);
}

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

/// <summary>Queue <c>extract-feature-shard</c> (<see cref="QueueNames.ExtractFeatureShard"/>): the feature service's work.</summary>
public sealed class ExtractFeatureShardConsumer(FeatureShardProcessor processor) : IConsumer<ExtractFeatureShard>
{
    public async Task Consume(ConsumeContext<ExtractFeatureShard> context)
    {
        var manifest = await processor.ProcessAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        await context.Publish(manifest.ToEvent(context.Message.RunId, DateTimeOffset.UtcNow), context.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// How the feature service takes shards: no more at a time than it has cores, and no more fetched ahead. A shard is CPU
/// work; with the broker's default prefetch one instance would take a whole run's shards and the other instances
/// (competing consumers) would wait with nothing to do.
/// </summary>
public sealed class ExtractFeatureShardConsumerDefinition : ConsumerDefinition<ExtractFeatureShardConsumer>
{
    /// <summary>Shards one instance works on at once (and fetches): its processor count.</summary>
    public static int ShardsAtOnce => Math.Max(1, Environment.ProcessorCount);

    public ExtractFeatureShardConsumerDefinition() => ConcurrentMessageLimit = ShardsAtOnce;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExtractFeatureShardConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = ShardsAtOnce;
    }
}
