using CremaD.FeatureExtraction;

namespace CremaD.Services.Tests;

public sealed class FeatureShardConsumerDefinitionTests
{
    /// <summary>Competing feature services share a run's shards only if none of them fetches more than it works on.</summary>
    [Fact]
    public void An_instance_takes_at_most_as_many_shards_as_it_has_cores()
    {
        var definition = new ExtractFeatureShardConsumerDefinition();
        Assert.Equal(Environment.ProcessorCount, definition.ConcurrentMessageLimit);
        Assert.Equal(Environment.ProcessorCount, ExtractFeatureShardConsumerDefinition.ShardsAtOnce);
    }
}
