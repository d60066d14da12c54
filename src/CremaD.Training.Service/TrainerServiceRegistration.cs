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
        options.Validate();
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<CremaD.Runs.RunStateStore>();
        builder.Services.TryAddSingleton<TrainingWorkSignal>();
        builder.Services.TryAddSingleton<TrainingJobs>();
        builder.Services.AddHostedService<TrainingWorker>();
        return builder;
    }

    /// <summary>The trainer's consumers (queue train-model).</summary>
    public static IBusRegistrationConfigurator AddTrainerConsumers(this IBusRegistrationConfigurator bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.AddConsumer<TrainModelConsumer>();
        return bus;
    }
}
