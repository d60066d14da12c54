using CremaD.Evaluation.Service;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The wiring of the evaluation service, so that its host is a few lines (the host adds the service defaults).</summary>
public static class EvaluationServiceRegistration
{
    /// <summary>The evaluation service: the shared blob store, the evaluator, the bus with the evaluator's consumers.</summary>
    public static TBuilder AddCremaDEvaluationService<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddCremaDSharedBlobStore().AddEvaluator().AddCremaDMessaging(bus => bus.AddEvaluatorConsumers());

    /// <summary>The evaluator's options (<c>Evaluation:*</c>), stops and work folder, without the bus (the host adds <see cref="AddEvaluatorConsumers"/>).</summary>
    public static TBuilder AddEvaluator<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton(builder.Configuration.GetSection(EvaluatorOptions.SectionName).Get<EvaluatorOptions>() ?? new EvaluatorOptions());
        builder.Services.TryAddSingleton<EvaluationStops>();
        builder.Services.AddHostedService<LibTorchWarmUp>();
        return builder;
    }

    /// <summary>The evaluator's consumers (queue evaluate-model; a temporary queue per process for the runs' stops).</summary>
    public static IBusRegistrationConfigurator AddEvaluatorConsumers(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<EvaluateModelConsumer>();
        bus.AddConsumer<EvaluationStopConsumer, EvaluationStopConsumerDefinition>();
        return bus;
    }
}
