using CremaD.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace CremaD.Learning.Tests;

public sealed class RecipeTests
{
    [Fact]
    public void DefaultsAreTheOriginalRecipe_and_the_default_model_is_statpool()
    {
        var options = new TrainingOptions();
        Assert.Equal(ModelName.StatPool, options.Model);
        Assert.Null(options.Pooling);
        Assert.Equal(80, options.Epochs);
        Assert.Equal(24, options.BatchSize);
        Assert.Equal(3e-4, options.LearningRate);
        Assert.Equal(1e-4, options.WeightDecay);
        Assert.Equal(42, options.Seed);
        Assert.Equal(12, options.Patience);
        Assert.Equal(0.05, options.LabelSmoothing);
        Assert.Equal(256, options.HiddenSize);
        Assert.Equal(2, options.NumLayers);
        Assert.Equal(0.35, options.Dropout);
        Assert.Equal(5.0, options.GradClip);
        Assert.True(options.UseSpecAugment);
        Assert.True(options.UseClassWeights);
        Assert.Equal(new ModelOptions(80, 256, 2, 0.35, 6, SummaryPooling.MeanStd), options.ToModelOptions(6));
        // The seed's model: the original script's, last hidden states summarising a clip.
        Assert.Equal(new ModelOptions(80, 256, 2, 0.35, 6), (options with { Model = ModelName.Seed }).ToModelOptions(6));
        Assert.Equal(SummaryPooling.LastState, new ModelOptions().Pooling);
        // A pooling given for an ablation overrides the model's.
        Assert.Equal(SummaryPooling.Attentive, (options with { Pooling = SummaryPooling.Attentive }).ToModelOptions(6).Pooling);
    }

    [Fact]
    public void OptimiserGetsTheRecipesWeightDecay()
    {
        using var session = new TrainingSession(SyntheticData.Data(9, 3), SyntheticData.TinyOptions(TrainingLoop.Reference) with { WeightDecay = 0.123 });
        var options = (TorchSharp.Modules.AdamW.Options)session.Optimizer.state_dict().Options[0];
        Assert.Equal(0.123, options.weight_decay);
        Assert.Equal(1e-2, options.LearningRate);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void ImpossibleOptionsAreRefused(int value)
    {
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Epochs = value }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { BatchSize = value }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Patience = value }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Threads = value }.Validate());
    }

    [Fact]
    public void ClassWeightsAreNOverKTimesTheClassCount()
    {
        var labels = new[] { 0, 1, 1, 2, 2, 2 };
        var clips = labels.Select((label, i) => new FeatureClip($"c{i}", label, 1, new float[80])).ToList();
        var weights = ClassWeights.Balanced(clips, 3);
        Assert.Equal(6f / (3 * 1), weights[0], 6);
        Assert.Equal(6f / (3 * 2), weights[1], 6);
        Assert.Equal(6f / (3 * 3), weights[2], 6);
        var subset = ClassWeights.Balanced([clips[0], clips[1], clips[2], clips[5]], 3);
        Assert.Equal(new[] { 4f / 3, 4f / 6, 4f / 3 }, subset);
        var missing = Assert.Throws<InvalidDataException>(() => ClassWeights.Balanced(clips, 4));
        Assert.Contains("Class 3", missing.Message);
    }

    [Fact]
    public void SpecAugmentMasksStayWithinTheRecipesLimits()
    {
        var augment = SpecAugment.Recipe;
        var random = new Random(123);
        var drawn = 0;
        const int Trials = 20_000;
        for (var trial = 0; trial < Trials; trial++)
        {
            var frames = 1 + trial % 40;
            var masks = augment.Draw(random, frames, 80);
            if (masks is null) continue;
            drawn++;
            Assert.Equal(2, masks.Time.Count);
            Assert.Equal(2, masks.Frequency.Count);
            Assert.All(masks.Time, span => Assert.True(span.Width is >= 0 and <= 12 && span.Start >= 0 && span.Start + span.Width <= frames));
            Assert.All(masks.Frequency, span => Assert.True(span.Width is >= 0 and <= 8 && span.Start >= 0 && span.Start + span.Width <= 80));
        }
        // Probability 0.4 per clip: 20,000 draws put the observed rate within ±0.015 with overwhelming probability.
        Assert.InRange(drawn / (double)Trials, 0.385, 0.415);
    }

    [Fact]
    public void SpecAugmentZeroesExactlyTheMaskedCellsOnArraysAndTensorsAlike()
    {
        var masks = new SpecAugmentMasks([(3, 4), (10, 0)], [(70, 8), (0, 2)]);
        const int Frames = 20, Bands = 80;
        var values = Enumerable.Range(1, Frames * Bands).Select(v => (float)v).ToArray();
        var array = (float[])values.Clone();
        masks.ApplyTo(array, Frames, Bands);
        using var features = tensor(values, [Frames, Bands]);
        masks.ApplyTo(features);
        Assert.Equal(array, features.data<float>().ToArray());
        for (var f = 0; f < Frames; f++)
        {
            for (var b = 0; b < Bands; b++)
            {
                var masked = f is >= 3 and < 7 || b is >= 70 and < 78 || b < 2;
                Assert.Equal(masked ? 0f : values[f * Bands + b], array[f * Bands + b]);
            }
        }
    }

    [Fact]
    public void LengthBucketedBatchesUseEveryClipOnceWithSimilarLengths()
    {
        var random = new Random(4);
        var frames = Enumerable.Range(0, 1000).Select(_ => random.Next(90, 280)).ToArray();
        var bucketed = Batching.LengthBucketed(frames, 24, 32, new Random(9));
        var plain = Batching.Random(frames.Length, 24, new Random(9));

        Assert.Equal(Enumerable.Range(0, 1000), bucketed.SelectMany(b => b).Order());
        Assert.All(bucketed, batch => Assert.InRange(batch.Length, 1, 24));
        double Steps(int[][] batches) => batches.Sum(batch => batch.Max(i => frames[i]));
        Assert.True(Steps(bucketed) < 0.8 * Steps(plain), "bucketing should shorten packed batches");
        Assert.Equal(bucketed, Batching.LengthBucketed(frames, 24, 32, new Random(9)));
        Assert.NotEqual(bucketed, Batching.LengthBucketed(frames, 24, 32, new Random(10)));
    }

    [Fact]
    public void SeedsDifferPerEpochAndStream()
    {
        var values = new HashSet<long>();
        for (var epoch = 1; epoch <= 50; epoch++)
        {
            Assert.True(values.Add(Seeds.Torch(42, epoch)));
            Assert.True(values.Add(Seeds.Host(42, epoch)));
            Assert.True(Seeds.Torch(42, epoch) >= 0);
        }
        Assert.Equal(Seeds.Torch(42, 3), Seeds.Torch(42, 3));
        Assert.NotEqual(Seeds.Torch(42, 3), Seeds.Torch(43, 3));
    }

    [Fact]
    public void BadTrainingDataIsNamed()
    {
        var data = SyntheticData.Data(6, 3);
        var broken = data.Train.ToList();
        broken[2] = broken[2] with { Frames = broken[2].Frames + 1 };
        var error = Assert.Throws<InvalidDataException>(() => new TrainingData(broken, data.Validation, data.Normalisation, data.ClassNames).Validate());
        Assert.Contains(broken[2].Id, error.Message);

        var badLabel = data.Validation.ToList();
        badLabel[0] = badLabel[0] with { Label = 7 };
        error = Assert.Throws<InvalidDataException>(() => new TrainingData(data.Train, badLabel, data.Normalisation, data.ClassNames).Validate());
        Assert.Contains("label 7", error.Message);

        var nan = data.Train.ToList();
        var values = (float[])nan[1].Data.Clone();
        values[85] = float.NaN;
        nan[1] = nan[1] with { Data = values };
        error = Assert.Throws<InvalidDataException>(() => new TrainingData(nan, data.Validation, data.Normalisation, data.ClassNames).Validate());
        Assert.Contains("frame 1, band 5", error.Message);
    }

    [Fact]
    public void ShardsSplitABatchIntoPartsOfSimilarLength()
    {
        var frames = new[] { 100, 180, 95, 170, 120, 160, 130, 150, 140, 110, 175, 99 };
        var shards = Batching.Shards(frames, 2);
        Assert.Equal(2, shards.Length);
        Assert.Equal(Enumerable.Range(0, frames.Length), shards.SelectMany(s => s).Order());
        Assert.All(shards, s => Assert.Equal(s.Order(), s));
        var totals = shards.Select(s => s.Sum(i => frames[i])).ToArray();
        Assert.True(Math.Abs(totals[0] - totals[1]) <= 20, $"shard frame totals {totals[0]} and {totals[1]}");
        Assert.Equal(shards, Batching.Shards(frames, 2));
        Assert.Equal(3, Batching.Shards([5, 6, 7], 8).Length); // never an empty shard
        Assert.Equal([[0, 1, 2]], Batching.Shards([5, 6, 7], 1));
    }

    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(2, 1, true)]
    [InlineData(3, 1, true)]
    [InlineData(4, 2, true)]
    [InlineData(9, 4, true)]
    public void ThreadsArePlannedAsDirectionPairsThenShards(int threads, int shards, bool concurrentDirections) =>
        Assert.Equal(new TrainingThreads(threads, shards, concurrentDirections), TrainingThreads.For(threads));

    [Fact]
    public void TrainingUsesEveryProcessorUnlessToldOtherwise()
    {
        var data = SyntheticData.Data(9, 3);
        using (var session = new TrainingSession(data, SyntheticData.TinyOptions(TrainingLoop.Fast) with { Threads = null }))
        {
            Assert.Equal(Environment.ProcessorCount, session.Threads);
        }
        using (var session = new TrainingSession(data, SyntheticData.TinyOptions(TrainingLoop.Reference) with { Threads = null }))
        {
            Assert.Equal(Environment.ProcessorCount, session.Threads);
            Assert.Equal(Environment.ProcessorCount, get_num_threads());
        }
    }

    [Fact]
    public void TrainingFlopsFollowTheGruEquations()
    {
        // 3 × 2 directions × (2·3H·(80 + H) + 2·3H·(2H + H)) with H = 256
        Assert.Equal(10_174_464, TrainingFlops.PerTrainFrame(new ModelOptions()));
        Assert.Equal(3 * 2 * 2 * 3 * 16 * (80 + 16), TrainingFlops.PerTrainFrame(new ModelOptions(HiddenSize: 16, NumLayers: 1)));
    }

    [Fact]
    public void ShardLossesAddUpToTheBatchMeanLoss()
    {
        // Unbalanced classes, so the class weights differ and the divisor is a weight sum, not a clip count.
        var train = SyntheticData.Clips(20, 3, "t").Where((c, i) => c.Label != 2 || i % 2 == 0).ToList();
        var data = new TrainingData(train, SyntheticData.Clips(6, 4, "v"), SyntheticData.NormalisationOf(train), SyntheticData.ClassNames);
        using var session = new TrainingSession(data, SyntheticData.TinyOptions(TrainingLoop.Fast) with { LabelSmoothing = 0.1 });
        using var scope = NewDisposeScope();
        var labels = new long[] { 0, 2, 1, 1, 0, 2, 2 };
        var logits = randn(labels.Length, 3);
        var mean = session.Loss(logits, tensor(labels)).item<float>();
        using var divisor = ((float)session.LossDivisor(labels)).ToScalar();
        float sum = 0;
        foreach (var shard in new[] { new long[] { 0, 3, 5 }, [1, 2], [4, 6] })
        {
            sum += session.ShardLoss(logits.index_select(0, tensor(shard)), tensor(shard.Select(i => labels[i]).ToArray()), divisor).item<float>();
        }
        Assert.Equal(mean, sum, 5);
    }
}
