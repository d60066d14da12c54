using CremaD.Contracts;
using MassTransit;

namespace CremaD.ServiceDefaults;

/// <summary>
/// Checks every incoming run message (<see cref="IRunMessage.FindProblems"/>) before its consumer sees it. An
/// invalid one fails with <see cref="InvalidMessageException"/>, which the retry policy lets through to the
/// <c>_error</c> queue at once, so consumers can rely on a valid message.
/// </summary>
public sealed class RunMessageConsumeValidationFilter<T> : IFilter<ConsumeContext<T>> where T : class
{
    public Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        if (context.Message is IRunMessage message) message.ThrowIfInvalid();
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadRunMessageValidation");
}

/// <summary>Refuses to publish an invalid run message: the bug shows in the service that has it, not downstream.</summary>
public sealed class RunMessagePublishValidationFilter<T> : IFilter<PublishContext<T>> where T : class
{
    public Task Send(PublishContext<T> context, IPipe<PublishContext<T>> next)
    {
        if (context.Message is IRunMessage message) message.ThrowIfInvalid();
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadRunMessageValidation");
}

/// <summary>Refuses to send an invalid run message.</summary>
public sealed class RunMessageSendValidationFilter<T> : IFilter<SendContext<T>> where T : class
{
    public Task Send(SendContext<T> context, IPipe<SendContext<T>> next)
    {
        if (context.Message is IRunMessage message) message.ThrowIfInvalid();
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadRunMessageValidation");
}
