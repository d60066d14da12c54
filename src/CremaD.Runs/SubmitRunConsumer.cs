using CremaD.Contracts;
using MassTransit;

namespace CremaD.Runs;

/// <summary>Queue <c>submit-run</c> (<see cref="QueueNames.SubmitRun"/>): starts runs.</summary>
public sealed class SubmitRunConsumer(RunCoordinator coordinator) : IConsumer<SubmitRun>
{
    public Task Consume(ConsumeContext<SubmitRun> context) => coordinator.SubmitAsync(context.Message.ThrowIfInvalid(), context);
}
