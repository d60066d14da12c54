using CremaD.Services;
using CremaD.Services.Training;
using CremaD.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The wiring of the trainer and evaluation services, so that their hosts (and tests) are a few lines.</summary>
public static class CremaDTrainingServiceRegistration
{
    /// <summary>The trainer service: blob store, bus with the TrainModel consumer, and the training worker (the host adds the service defaults).</summary>
    public static WebApplicationBuilder AddCremaDTrainerService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDSharedBlobStore();
        builder.AddTrainingWorker();
        builder.AddCremaDMessaging(bus => bus.AddConsumer<TrainModelConsumer>());
        return builder;
    }

    /// <summary>
    /// The training worker and what it needs (options from <c>Trainer:*</c>, run state store, work folder), without the
    /// bus: the host adds <see cref="TrainModelConsumer"/> to its one bus.
    /// </summary>
    public static TBuilder AddTrainingWorker<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        var options = builder.Configuration.GetSection(TrainerOptions.SectionName).Get<TrainerOptions>() ?? new TrainerOptions();
        options.Validate();
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.Services.TryAddSingleton<TrainingWorkSignal>();
        builder.Services.TryAddSingleton<TrainingJobs>();
        builder.Services.AddHostedService<TrainingWorker>();
        return builder;
    }

    /// <summary>The evaluation service: blob store, bus with the EvaluateModel consumer (the host adds the service defaults).</summary>
    public static WebApplicationBuilder AddCremaDEvaluationService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDSharedBlobStore();
        builder.AddEvaluator();
        builder.AddCremaDMessaging(bus => bus.AddConsumer<EvaluateModelConsumer>());
        return builder;
    }

    /// <summary>The evaluator's options (<c>Evaluation:*</c>), run state store and work folder, without the bus.</summary>
    public static TBuilder AddEvaluator<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton(builder.Configuration.GetSection(EvaluatorOptions.SectionName).Get<EvaluatorOptions>() ?? new EvaluatorOptions());
        builder.Services.TryAddSingleton<RunStateStore>();
        return builder;
    }

    /// <summary>
    /// Every service in one host on one bus (the AppHost's embedded mode, with the in-memory transport): the shared
    /// blob store, the coordinator, feature processing, the training worker and the evaluator.
    /// Map the runs API with <see cref="CremaDServiceRegistration.MapCremaDRunsApi"/>.
    /// </summary>
    public static WebApplicationBuilder AddCremaDAllServices(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDSharedBlobStore();
        builder.AddRunCoordinator();
        builder.AddFeatureShardProcessing();
        builder.AddTrainingWorker();
        builder.AddEvaluator();
        builder.AddCremaDMessaging(bus =>
        {
            bus.AddRunCoordinatorConsumers();
            bus.AddFeatureShardConsumer();
            bus.AddConsumer<TrainModelConsumer>();
            bus.AddConsumer<EvaluateModelConsumer>();
        });
        return builder;
    }
}
