using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace CremaD.Messaging;

/// <summary>
/// A message was delivered more often than <see cref="CremaDMessagingOptions.MaxDeliveries"/> without its consumer
/// finishing it: each time the consumer's process died (a crash, an out-of-memory kill) or lost the broker mid-way.
/// Never retried: the message goes to its <c>_error</c> queue and the run fails with this reason.
/// </summary>
public sealed class DeliveryLimitExceededException(string message) : Exception(message);

/// <summary>
/// The delivery limit, kept where a crash cannot reset it. RabbitMQ marks a message redelivered when the consumer that
/// had it went away without acknowledging it; a classic queue has no delivery count, so a message that kills its
/// consumer's process would come back forever. For every redelivered run message this counts the delivery in blob
/// storage (<see cref="BlobLayout.DeliveryCountKey"/>, one small blob per message id, written under an ETag condition)
/// and, past the limit, refuses it with <see cref="DeliveryLimitExceededException"/>. A first delivery costs nothing,
/// and the in-process retries of one delivery are not deliveries. Hosts without a blob store skip the count.
/// </summary>
public sealed class DeliveryLimitFilter<T>(IServiceProvider services, CremaDMessagingOptions options) : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        if (context.ReceiveContext.Redelivered && context.Message is IRunMessage { RunId: var runId } && runId != Guid.Empty
            && context.MessageId is { } messageId && services.GetService<IBlobStore>() is { } blobs)
        {
            var deliveries = await CountAsync(blobs, BlobLayout.DeliveryCountKey(runId, messageId), context.CancellationToken).ConfigureAwait(false);
            if (deliveries > options.MaxDeliveries)
            {
                throw new DeliveryLimitExceededException(
                    $"{typeof(T).Name} of run {runId:D} was delivered {deliveries} times and never finished: the process consuming it died or lost " +
                    $"the broker each time (delivery limit {options.MaxDeliveries}).");
            }
        }
        await next.Send(context).ConfigureAwait(false);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadDeliveryLimit");

    /// <summary>Counts this delivery; returns the deliveries so far, this one included (the first was not counted: it was not a redelivery).</summary>
    private static async Task<int> CountAsync(IBlobStore blobs, string key, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var info = await blobs.GetInfoAsync(key, cancellationToken).ConfigureAwait(false);
            var count = 1;
            if (info is not null)
            {
                try
                {
                    count = (await blobs.ReadJsonAsync<DeliveryCount>(key, ServiceJson.Options, cancellationToken).ConfigureAwait(false)).Redeliveries;
                }
                catch (BlobNotFoundException)
                {
                    continue;
                }
            }
            var next = new DeliveryCount(count + (info is null ? 0 : 1));
            try
            {
                await blobs.WriteJsonAsync(key, next, ServiceJson.Options,
                    info is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(info.ETag), cancellationToken).ConfigureAwait(false);
                return next.Redeliveries + 1;
            }
            catch (BlobConditionFailedException) when (attempt < 10)
            {
                // Counted by another consumer at the same moment (a duplicate delivery): count again on top of it.
            }
        }
    }

    /// <param name="Redeliveries">Redeliveries seen so far.</param>
    private sealed record DeliveryCount(int Redeliveries);
}
