using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.Training.Service;

namespace CremaD.Services.Tests;

/// <summary>
/// The recipe's defaults are written twice — in the message contract (which cannot reference TorchSharp) and in
/// TrainingOptions — so this pins them together: a distributed run with default config trains exactly as
/// `cremad train` with default flags (the fast loop).
/// </summary>
public sealed class RunConfigMappingTests
{
    [Fact]
    public void Default_run_config_is_the_default_training_recipe()
    {
        Assert.Equal(new TrainingOptions(), RunConfig.Default.ToTrainingOptions());
    }

    [Fact]
    public void Every_flag_is_carried_over()
    {
        var config = new RunConfig
        {
            Epochs = 7, BatchSize = 5, LearningRate = 0.01, WeightDecay = 0.2, Seed = 9, Patience = 3, LabelSmoothing = 0.1,
            HiddenSize = 32, NumLayers = 1, Dropout = 0.1, GradClip = 1.5, UseSpecAugment = false, UseClassWeights = false,
            Device = RunDevice.Cpu, Loop = RunTrainingLoop.Fast, Model = RunModel.Seed,
        };
        var expected = new TrainingOptions
        {
            Epochs = 7, BatchSize = 5, LearningRate = 0.01, WeightDecay = 0.2, Seed = 9, Patience = 3, LabelSmoothing = 0.1,
            HiddenSize = 32, NumLayers = 1, Dropout = 0.1, GradClip = 1.5, UseSpecAugment = false, UseClassWeights = false,
            Device = DeviceChoice.Cpu, Loop = TrainingLoop.Fast, Threads = 2, Model = ModelName.Seed,
        };
        Assert.Equal(expected, config.ToTrainingOptions(threads: 2));
    }

    [Fact]
    public void A_trainer_trains_with_every_core_of_its_container_unless_configured()
    {
        Assert.Equal(Environment.ProcessorCount, new TrainerOptions().TrainingThreads);
        Assert.Equal(3, new TrainerOptions { Threads = 3 }.TrainingThreads);
        Assert.Equal(Environment.ProcessorCount, RunConfig.Default.ToTrainingOptions(new TrainerOptions().TrainingThreads).Threads);
    }
}
