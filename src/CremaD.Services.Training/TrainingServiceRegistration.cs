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
    /// <summary>The trainer service: service defaults, blob store, bus with the TrainModel consumer, and the training worker.</summary>
    public static WebApplicationBuilder AddCremaDTrainerService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        builder.AddCremaDBlobStore(container: builder.Configuration[CremaDServiceRegistration.BlobContainerKey] ?? CremaDServiceRegistration.DefaultBlobContainer);
        builder.AddCremaDWork();
        var options = builder.Configuration.GetSection(TrainerOptions.SectionName).Get<TrainerOptions>() ?? new TrainerOptions();
        BlobLeaseDuration.Validate(options.LeaseDuration);
        builder.Services.TryAddSingleton(options);
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.Services.TryAddSingleton<TrainingWorkSignal>();
        builder.Services.TryAddSingleton<TrainingJobs>();
        builder.Services.AddHostedService<TrainingWorker>();
        builder.AddCremaDMessaging(bus => bus.AddConsumer<TrainModelConsumer>());
        return builder;
    }

    /// <summary>The evaluation service: service defaults, blob store, bus with the EvaluateModel consumer.</summary>
    public static WebApplicationBuilder AddCremaDEvaluationService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        builder.AddCremaDBlobStore(container: builder.Configuration[CremaDServiceRegistration.BlobContainerKey] ?? CremaDServiceRegistration.DefaultBlobContainer);
        builder.AddCremaDWork();
        builder.Services.TryAddSingleton(builder.Configuration.GetSection(EvaluatorOptions.SectionName).Get<EvaluatorOptions>() ?? new EvaluatorOptions());
        builder.Services.TryAddSingleton<RunStateStore>();
        builder.AddCremaDMessaging(bus => bus.AddConsumer<EvaluateModelConsumer>());
        return builder;
    }
}
