using CremaD.FeatureExtraction;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The wiring of the feature service, so that its host is a few lines (the host adds the service defaults).</summary>
public static class FeatureExtractionServiceRegistration
{
    /// <summary>The feature service: the shared blob store, the shard processor, the bus with the shard consumer.</summary>
    public static TBuilder AddCremaDFeatureService<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddCremaDSharedBlobStore().AddFeatureShardProcessing().AddCremaDMessaging(bus => bus.AddFeatureShardConsumer());

    /// <summary>The feature-shard processor, without the bus (the host adds <see cref="AddFeatureShardConsumer"/> to its one bus).</summary>
    public static TBuilder AddFeatureShardProcessing<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(provider => new FeatureShardProcessor(provider.GetRequiredService<IBlobStore>()));
        return builder;
    }

    /// <summary>The feature service's consumer (queue extract-feature-shard), with its definition (shards at once = cores).</summary>
    public static IBusRegistrationConfigurator AddFeatureShardConsumer(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<ExtractFeatureShardConsumer, ExtractFeatureShardConsumerDefinition>();
        return bus;
    }
}
