using CremaD.Contracts;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>The run recipe of the contracts as the trainer's options (same flags, same defaults).</summary>
public static class RunConfigMapping
{
    /// <param name="threads">Threads of this trainer (a property of the machine, not of the run); null: every core.</param>
    public static TrainingOptions ToTrainingOptions(this RunConfig config, int? threads = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new TrainingOptions
        {
            Model = config.Model switch
            {
                RunModel.StatPool => ModelName.StatPool,
                RunModel.Seed => ModelName.Seed,
                _ => throw new ArgumentOutOfRangeException(nameof(config), config.Model, "unknown model"),
            },
            Epochs = config.Epochs,
            BatchSize = config.BatchSize,
            LearningRate = config.LearningRate,
            WeightDecay = config.WeightDecay,
            Seed = config.Seed,
            Patience = config.Patience,
            LabelSmoothing = config.LabelSmoothing,
            HiddenSize = config.HiddenSize,
            NumLayers = config.NumLayers,
            Dropout = config.Dropout,
            GradClip = config.GradClip,
            UseSpecAugment = config.UseSpecAugment,
            UseClassWeights = config.UseClassWeights,
            Device = config.Device.ToDeviceChoice(),
            Loop = config.Loop switch
            {
                RunTrainingLoop.Fast => TrainingLoop.Fast,
                RunTrainingLoop.Reference => TrainingLoop.Reference,
                _ => throw new ArgumentOutOfRangeException(nameof(config), config.Loop, "unknown training loop"),
            },
            Threads = threads,
        };
    }

    public static DeviceChoice ToDeviceChoice(this RunDevice device) => device switch
    {
        RunDevice.Cpu => DeviceChoice.Cpu,
        RunDevice.Cuda => DeviceChoice.Cuda,
        _ => DeviceChoice.Auto,
    };
}
