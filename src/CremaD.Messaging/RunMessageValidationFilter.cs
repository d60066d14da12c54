using CremaD.Contracts;
using MassTransit;

namespace CremaD.Messaging;

/// <summary>
/// Checks every run message (<see cref="IRunMessage.FindProblems"/>) on its way in and out of a service. An invalid one
/// fails with <see cref="InvalidMessageException"/>: received, before its consumer sees it, so the retry policy lets it
/// through to the <c>_error</c> queue at once and consumers can rely on a valid message; published or sent, in the
/// service that made it, so the bug shows there and not downstream.
/// </summary>
public sealed class RunMessageValidationFilter<T> : IFilter<ConsumeContext<T>>, IFilter<PublishContext<T>>, IFilter<SendContext<T>>
    where T : class
{
    public Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        Validate(context.Message);
        return next.Send(context);
    }

    public Task Send(PublishContext<T> context, IPipe<PublishContext<T>> next)
    {
        Validate(context.Message);
        return next.Send(context);
    }

    public Task Send(SendContext<T> context, IPipe<SendContext<T>> next)
    {
        Validate(context.Message);
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadRunMessageValidation");

    private static void Validate(T message)
    {
        if (message is IRunMessage runMessage) runMessage.ThrowIfInvalid();
    }
}
