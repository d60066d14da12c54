namespace CremaD.Contracts.Tests;

public sealed class ValidationTests
{
    [Theory]
    [MemberData(nameof(SampleMessages.AllTypes), MemberType = typeof(SampleMessages))]
    public void The_samples_are_valid(Type type)
    {
        var sample = SampleMessages.ByType[type];

        Assert.Empty(sample.FindProblems());
        Assert.Same(sample, sample.ThrowIfInvalid());
    }

    [Fact]
    public void An_evaluation_may_name_only_its_own_runs_artefacts()
    {
        var valid = SampleMessages.EvaluationCompleted;
        Assert.Empty(valid.FindProblems());
        var elsewhere = valid with
        {
            Artifacts = [new("test_metrics.json", "datasets/demo/labels.csv"), new("model.json", BlobLayout.RunPrefix(Guid.NewGuid()) + "artifacts/model.json")],
        };

        var problems = elsewhere.FindProblems();

        Assert.Equal(2, problems.Count);
        Assert.All(problems, p => Assert.Contains($"artefacts are {BlobLayout.ArtifactsPrefix(valid.RunId)}<name>", p));
    }

    [Fact]
    public void A_trained_model_may_be_only_in_its_own_runs_model_folder()
    {
        var valid = SampleMessages.TrainingCompleted with
        {
            ModelPrefix = BlobLayout.ModelGenerationPrefix(BlobLayout.ModelPrefix(SampleMessages.RunId), 2),
        };
        Assert.Empty(valid.FindProblems());
        var other = BlobLayout.RunPrefix(Guid.NewGuid());

        var problems = (valid with { ModelPrefix = other + "model/g000002/", HistoryKey = other + "model/g000002/history.json" }).FindProblems();

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains($"not inside this run's model folder {BlobLayout.ModelPrefix(valid.RunId)}", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains($"not inside this run's folder {BlobLayout.RunPrefix(valid.RunId)}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_recipe_defaults_are_the_training_scripts()
    {
        var config = RunConfig.Default;

        Assert.Equal(
            (80, 24, 3e-4, 1e-4, 42, 12, 0.05, 256, 2, 0.35, 5.0, true, true, RunDevice.Auto, 256),
            (config.Epochs, config.BatchSize, config.LearningRate, config.WeightDecay, config.Seed, config.Patience,
             config.LabelSmoothing, config.HiddenSize, config.NumLayers, config.Dropout, config.GradClip,
             config.UseSpecAugment, config.UseClassWeights, config.Device, config.ShardSize));
        Assert.Equal(RunTrainingLoop.Fast, config.Loop); // the production loop, as TrainingOptions and the CLI
        Assert.Empty(config.FindProblems());
    }

    [Fact]
    public void Flags_carry_the_training_scripts_names()
    {
        var flags = RunConfig.Default.ToFlags();

        Assert.Equal(
            ["model", "epochs", "batch_size", "learning_rate", "weight_decay", "seed", "patience", "label_smoothing", "hidden_size",
             "num_layers", "dropout", "grad_clip", "use_spec_augment", "use_class_weights", "device", "loop", "shard_size"],
            flags.Keys);
        Assert.Equal("auto", flags["device"]);
        Assert.Equal(3e-4, flags["learning_rate"]);
        Assert.Equal("statpool", flags["model"]);
        Assert.Equal("seed", (RunConfig.Default with { Model = RunModel.Seed }).ToFlags()["model"]);
        Assert.StartsWith("model=statpool epochs=80 batch_size=24 learning_rate=0.0003 weight_decay=0.0001 seed=42", RunConfig.Default.ToString());
        Assert.EndsWith("use_class_weights=true device=auto loop=fast shard_size=256", RunConfig.Default.ToString());
    }

    [Fact]
    public void Every_impossible_flag_is_named()
    {
        var config = RunConfig.Default with
        {
            Epochs = 0, BatchSize = -1, LearningRate = double.NaN, WeightDecay = -1e-4, Patience = 0, LabelSmoothing = 1,
            HiddenSize = 0, NumLayers = 0, Dropout = 1, GradClip = 0, ShardSize = RunConfig.MaxShardSize + 1, Device = (RunDevice)9,
            Model = (RunModel)7,
        };

        var problems = config.FindProblems();

        foreach (var flag in new[] { "epochs", "batch_size", "learning_rate", "weight_decay", "patience", "label_smoothing",
                     "hidden_size", "num_layers", "dropout", "grad_clip", "shard_size", "device", "model" })
        {
            Assert.Contains(problems, p => p.StartsWith(flag + " ", StringComparison.Ordinal));
        }
        Assert.Contains("epochs must be at least 1, got 0.", problems);
        Assert.Contains($"shard_size must be at most {RunConfig.MaxShardSize}, got {RunConfig.MaxShardSize + 1}.", problems);
    }

    [Fact]
    public void An_invalid_command_throws_with_its_type_run_and_every_problem()
    {
        var shard = SampleMessages.ExtractShard(1) with { ShardIndex = 2, RecipeVersion = 0 };

        var error = Assert.Throws<InvalidMessageException>(() => shard.ThrowIfInvalid());

        Assert.Equal("ExtractFeatureShard", error.MessageType);
        Assert.Equal(SampleMessages.RunId, error.RunId);
        Assert.Equal(2, error.Problems.Count);
        Assert.Equal(
            "ExtractFeatureShard for run 5b1f4c2e-9a7d-4e0b-8c63-2f0d9e1a7b44 is invalid: recipeVersion must be at least 1, got 0. shardIndex must be in [0, 2), got 2.",
            error.Message);
    }

    [Fact]
    public void A_shard_with_bad_clips_names_each_clip_and_field()
    {
        var clips = SampleMessages.ExtractShard(0).Clips.ToList();
        clips[1] = clips[1] with { Label = 6 };
        clips[2] = clips[2] with { Key = "/abs/path.wav" };
        clips[3] = clips[3] with { Id = clips[0].Id };
        var shard = SampleMessages.ExtractShard(0) with { Clips = clips, OutputPrefix = "features/../x/" };

        var problems = shard.FindProblems();

        Assert.Contains("clips[1]: label must be a class id in [0, 6), got 6.", problems);
        Assert.Contains("clips[2]: key '/abs/path.wav' must be relative (no leading '/').", problems);
        Assert.Contains($"clips lists the clip id '{clips[0].Id}' more than once.", problems);
        Assert.Contains("outputPrefix 'features/../x/' has a '..' segment.", problems);
        Assert.Contains("clips must not be empty: a shard plan has no empty shards.", (shard with { Clips = [] }).FindProblems());
    }

    [Fact]
    public void A_message_without_a_run_id_is_invalid()
    {
        var problems = (SampleMessages.CancelRun with { RunId = Guid.Empty }).FindProblems();

        Assert.Equal(["runId must not be empty."], problems);
        var error = Assert.Throws<InvalidMessageException>(() => (SampleMessages.CancelRun with { RunId = Guid.Empty }).ThrowIfInvalid());
        Assert.Null(error.RunId);
        Assert.StartsWith("CancelRun is invalid: runId", error.Message);
    }

    [Fact]
    public void Nested_problems_are_prefixed_with_their_field()
    {
        var submit = SampleMessages.SubmitRun with
        {
            Dataset = new DatasetRef("datasets/demo"),
            Config = SampleMessages.Config with { Epochs = 0 },
        };

        Assert.Equal(
            ["dataset: prefix 'datasets/demo' must end with '/'.", "config: epochs must be at least 1, got 0."],
            submit.FindProblems());
    }

    [Fact]
    public void Shard_statistics_must_cover_exactly_the_shards_train_clips()
    {
        var shard = SampleMessages.ShardExtracted(0);
        var wrong = shard with { TrainStatistics = shard.TrainStatistics with { Frames = shard.TrainStatistics.Frames + 1 } };

        Assert.Contains(
            $"trainStatistics covers 4 clips and {shard.TrainStatistics.Frames + 1} frames, but the shard's train clips are 4 with {shard.TrainStatistics.Frames} frames.",
            wrong.FindProblems());
    }

    [Fact]
    public void Band_statistics_must_be_80_finite_bands_with_non_negative_spread()
    {
        var moments = SampleMessages.ShardExtracted(0).TrainStatistics;

        Assert.Contains("mean and m2 must each have 80 bands, got 79 and 80.", (moments with { Mean = moments.Mean[..79] }).FindProblems());
        var negative = (double[])moments.M2.Clone();
        negative[5] = -1;
        Assert.Contains("m2 (sums of squared deviations) must not be negative.", (moments with { M2 = negative }).FindProblems());
        var infinite = (double[])moments.Mean.Clone();
        infinite[0] = double.PositiveInfinity;
        Assert.Contains("mean and m2 must be finite.", (moments with { Mean = infinite }).FindProblems());
        Assert.Empty(BandMoments.Empty().FindProblems());
        Assert.Contains("mean and m2 must be zero when there are no frames.", (BandMoments.Empty() with { Mean = moments.Mean }).FindProblems());
    }

    [Fact]
    public void Events_check_their_own_consistency()
    {
        Assert.Contains("clips (10) must be trainClips + validationClips + testClips (9).",
            (SampleMessages.FeaturesReady with { Clips = 10 }).FindProblems());
        Assert.Contains("epoch: bestEpoch must be in [1, 1], got 2.",
            (SampleMessages.EpochCompleted(1) with { Epoch = SampleMessages.Epoch(1) with { BestEpoch = 2 } }).FindProblems());
        Assert.Contains("epoch 3 is beyond maxEpochs 2.", (SampleMessages.EpochCompleted(3) with { MaxEpochs = 2 }).FindProblems());
        Assert.Contains("stage must be the stage that failed, not the terminal stage Completed.",
            (SampleMessages.RunFailed with { Stage = RunStage.Completed }).FindProblems());
        Assert.Contains("accuracy must be in [0, 1], got 1.5.", (SampleMessages.EvaluationCompleted with { Accuracy = 1.5 }).FindProblems());
        Assert.Contains("reason must not be empty.", (SampleMessages.RunFailed with { Reason = " " }).FindProblems());
    }

    [Fact]
    public void An_evaluation_command_needs_the_runs_recipe_training_summary_and_timestamps()
    {
        var evaluate = SampleMessages.EvaluateModel;

        Assert.Equal(
            ["config is required.", "training is required.", "timestamps is required."],
            (evaluate with { Config = null!, Training = null!, Timestamps = null! }).FindProblems());
        Assert.Equal(
            ["training: device must not be empty.", "training: bestEpoch must be in [1, 3], got 4."],
            (evaluate with { Training = evaluate.Training with { Device = "", BestEpoch = 4 } }).FindProblems());
        Assert.Equal(["training: epochsRun must be at least 1, got 0.", "training: bestEpoch must be in [1, 0], got 2."],
            (evaluate with { Training = evaluate.Training with { EpochsRun = 0 } }).FindProblems());
        Assert.Contains("config: epochs must be at least 1, got 0.", (evaluate with { Config = evaluate.Config with { Epochs = 0 } }).FindProblems());
    }
}
