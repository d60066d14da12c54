using CremaD.Learning;
using Microsoft.Extensions.Hosting;

namespace CremaD.Evaluation.Service;

/// <summary>Loads LibTorch when the service starts (in the background), rather than in the first run's evaluation time.</summary>
public sealed class LibTorchWarmUp : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(ComputeDevice.WarmUp, stoppingToken);
}
