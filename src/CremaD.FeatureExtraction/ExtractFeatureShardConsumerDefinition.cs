using MassTransit;

namespace CremaD.FeatureExtraction;

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
