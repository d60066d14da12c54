using System.Globalization;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CremaD.Messaging;

/// <summary>
/// A command's work was started more often than <see cref="CremaDMessagingOptions.MaxDeliveries"/> without ever
/// finishing: each time the process consuming it died (a crash, an out-of-memory kill) or lost the broker mid-way.
/// Its name is the <see cref="RunFailed.ExceptionType"/> of the run that fails for it.
/// </summary>
public sealed class DeliveryLimitExceededException(string message) : Exception(message);

/// <summary>
/// The delivery limit, kept where a crash cannot reset it. A classic RabbitMQ queue has no delivery count: a command
/// that kills its consumer's process comes back for ever, and a re-drive by the reconciler is a new message with a new
/// id. So for every run command (not events) this counts, per piece of work (the command's type and run, and a shard's
/// index: <see cref="BlobLayout.DeliveryCountKey"/>), the deliveries that started and did not finish, in one small blob
/// written under an ETag condition: one more when a delivery starts, the blob removed when it ends in any way the
/// process lived through (done, or failed and handled by the retry and error queues). Past the limit the delivery is
/// consumed without its work and the run failed (<see cref="RunFailed"/>) with the reason. The filter is a per-message
/// consume filter, so it runs inside the endpoint's retries and outbox: each in-process attempt that ends takes its
/// count back, and the RunFailed leaves with the outbox. Hosts without a blob store skip the count.
/// </summary>
public sealed class DeliveryLimitFilter<T>(IServiceProvider services, CremaDMessagingOptions options) : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        if (context.Message is not IRunMessage { RunId: var runId } || context.Message is IRunEvent || runId == Guid.Empty
            || services.GetService<IBlobStore>() is not { } blobs)
        {
            await next.Send(context).ConfigureAwait(false);
            return;
        }
        var key = BlobLayout.DeliveryCountKey(runId, WorkOf(context.Message));
        var unfinished = await CountStartAsync(blobs, key, context.CancellationToken).ConfigureAwait(false);
        if (unfinished > options.MaxDeliveries)
        {
            var reason = $"{typeof(T).Name} of run {runId:D} was delivered {unfinished} times and never finished: the process consuming it died or " +
                         $"lost the broker each time (delivery limit {options.MaxDeliveries}).";
            // The command is consumed without its work, and the run fails with the reason. (Thrown instead, the refusal
            // would meet the retry and outbox around this filter: retried, and with no Fault of the consumer's to report it.)
            services.GetService<ILoggerFactory>()?.CreateLogger("CremaD.Messaging.DeliveryLimit").LogError("{Reason} The run fails.", reason);
            await context.Publish(new RunFailed(runId, StageOf(context.Message), reason, typeof(DeliveryLimitExceededException).FullName,
                DateTimeOffset.UtcNow), context.CancellationToken).ConfigureAwait(false);
            return;
        }
        try
        {
            await next.Send(context).ConfigureAwait(false);
        }
        finally
        {
            // Ended in a way this process saw: not a death. (Best effort: should storage be away, the count stays one too high.)
            try
            {
                await blobs.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The next delivery counts from here; a limit of a few absorbs it.
            }
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("cremadDeliveryLimit");

    /// <summary>The stage a command's work belongs to.</summary>
    private static RunStage StageOf(object message) => message switch
    {
        ExtractFeatureShard => RunStage.Features,
        TrainModel => RunStage.Training,
        EvaluateModel => RunStage.Evaluation,
        _ => RunStage.Submitted,
    };

    /// <summary>The piece of work a command stands for: its type, and for a shard its index.</summary>
    private static string WorkOf(object message) => message switch
    {
        ExtractFeatureShard shard => string.Create(CultureInfo.InvariantCulture, $"{nameof(ExtractFeatureShard)}-{shard.ShardIndex}-of-{shard.ShardCount}"),
        _ => message.GetType().Name,
    };

    /// <summary>Counts a started delivery; returns the deliveries started and not finished, this one included.</summary>
    private static async Task<int> CountStartAsync(IBlobStore blobs, string key, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var info = await blobs.GetInfoAsync(key, cancellationToken).ConfigureAwait(false);
            var started = 0;
            if (info is not null)
            {
                try
                {
                    started = (await blobs.ReadJsonAsync<DeliveryCount>(key, ServiceJson.Options, cancellationToken).ConfigureAwait(false)).Unfinished;
                }
                catch (BlobNotFoundException)
                {
                    continue;
                }
            }
            var next = new DeliveryCount(started + 1);
            try
            {
                await blobs.WriteJsonAsync(key, next, ServiceJson.Options,
                    info is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(info.ETag), cancellationToken).ConfigureAwait(false);
                return next.Unfinished;
            }
            catch (BlobConditionFailedException) when (attempt < 10)
            {
                // Counted by another consumer at the same moment (a duplicate delivery): count again on top of it.
            }
        }
    }

    /// <param name="Unfinished">Deliveries started and not finished.</param>
    private sealed record DeliveryCount(int Unfinished);
}
