using CremaD.Training.Service;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The wiring of the trainer service, so that its host is a few lines (the host adds the service defaults).</summary>
public static class TrainerServiceRegistration
{
    /// <summary>The trainer service: the shared blob store, the training worker, the bus with the trainer's consumers.</summary>
    public static TBuilder AddCremaDTrainerService<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddCremaDSharedBlobStore().AddTrainingWorker().AddCremaDMessaging(bus => bus.AddTrainerConsumers());

    /// <summary>
    /// The training worker and what it needs (options from <c>Trainer:*</c>, work folder), without the bus: the host adds
    /// <see cref="AddTrainerConsumers"/> to its one bus.
    /// </summary>
    public static TBuilder AddTrainingWorker<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCremaDWork();
        var options = builder.Configuration.GetSection(TrainerOptions.SectionName).Get<TrainerOptions>() ?? new TrainerOptions();
        // Replicas share the service's name (OTEL_SERVICE_NAME, set by the AppHost); the machine and process tell them apart.
        options = options with { WorkerName = options.WorkerName ?? TrainerOptions.DefaultWorkerName(builder.Configuration["OTEL_SERVICE_NAME"]) };
        builder.Services.AddTrainer(options);
        builder.Services.AddHostedService<TrainingWorker>();
        return builder;
    }

    /// <summary>
    /// The trainer's parts (its options, the work list's poller, the training job, the failure ledger, the attempt record,
    /// the model uploader, the run stops), without the worker that polls: they need an <see cref="CremaD.Storage.IBlobStore"/>, an
    /// <see cref="IBus"/> and the <see cref="CremaD.Storage.Hosting.ServiceWorkOptions"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public static IServiceCollection AddTrainer(this IServiceCollection services, TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.TryAddSingleton(options);
        services.TryAddSingleton<TrainingWorkSignal>();
        services.TryAddSingleton<TrainingStops>();
        services.TryAddSingleton<TrainingFailureLedger>();
        services.TryAddSingleton<TrainingAttempts>();
        services.TryAddSingleton<ModelUploader>();
        services.TryAddSingleton<TrainingJob>();
        services.TryAddSingleton<TrainingRequestPoller>();
        return services;
    }

    /// <summary>The trainer's consumers (queues train-model and training-stop).</summary>
    public static IBusRegistrationConfigurator AddTrainerConsumers(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<TrainModelConsumer>();
        bus.AddConsumer<TrainingStopConsumer>();
        return bus;
    }
}
