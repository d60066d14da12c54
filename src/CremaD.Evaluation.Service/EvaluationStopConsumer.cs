using CremaD.Contracts;
using MassTransit;

namespace CremaD.Evaluation.Service;

/// <summary>
/// <see cref="RunCancelled"/> and <see cref="RunFailed"/>: the run's evaluation in this process is stopped, or not begun
/// (<see cref="EvaluationStops"/>). Every evaluation service instance has a queue of its own for them
/// (<see cref="EvaluationStopConsumerDefinition"/>), since any instance may be the one evaluating the run.
/// </summary>
public sealed class EvaluationStopConsumer(EvaluationStops stops) : IConsumer<RunCancelled>, IConsumer<RunFailed>
{
    public Task Consume(ConsumeContext<RunCancelled> context)
    {
        stops.Stop(context.Message.RunId);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<RunFailed> context)
    {
        stops.Stop(context.Message.RunId);
        return Task.CompletedTask;
    }
}
