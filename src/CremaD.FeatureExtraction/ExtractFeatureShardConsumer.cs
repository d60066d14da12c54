using CremaD.Contracts;
using MassTransit;

namespace CremaD.FeatureExtraction;

/// <summary>Queue <c>extract-feature-shard</c> (<see cref="QueueNames.ExtractFeatureShard"/>): the feature service's work.</summary>
public sealed class ExtractFeatureShardConsumer(FeatureShardProcessor processor) : IConsumer<ExtractFeatureShard>
{
    public async Task Consume(ConsumeContext<ExtractFeatureShard> context)
    {
        var manifest = await processor.ProcessAsync(context.Message, context.CancellationToken).ConfigureAwait(false);
        await context.Publish(manifest.ToEvent(context.Message.RunId, DateTimeOffset.UtcNow), context.CancellationToken).ConfigureAwait(false);
    }
}
