using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.utils.rnn;

namespace CremaD.Learning.Tests;

public sealed class ModelTests
{
    private static readonly ModelOptions Small = new(InputSize: 80, HiddenSize: 12, NumLayers: 2, Dropout: 0.2, Classes: 6);

    [Theory]
    [InlineData(SummaryPooling.LastState)]
    [InlineData(SummaryPooling.MeanStd)]
    [InlineData(SummaryPooling.Attentive)]
    public void LogitsHaveOneRowPerSequenceInTheGivenOrder(SummaryPooling pooling)
    {
        manual_seed(11);
        using var scope = NewDisposeScope();
        using var model = new SerModel(Small with { Pooling = pooling });
        model.eval();
        var lengths = new[] { 7, 30, 1, 19, 30, 4 }; // unsorted, with a tie and a one-frame clip
        var sequences = lengths.Select(length => randn(length, 80)).ToArray();

        using var noGrad = no_grad();
        var logits = model.call(pack_sequence(sequences, enforce_sorted: false));
        Assert.Equal(new long[] { lengths.Length, 6 }, logits.shape);
        // Each row must be that sequence's own answer, not one of the length-sorted batch's.
        for (var i = 0; i < sequences.Length; i++)
        {
            var alone = model.call(pack_sequence([sequences[i]], enforce_sorted: false));
            Assert.True(allclose(alone[0], logits[i], rtol: 1e-4, atol: 1e-5), $"row {i} differs from the sequence run alone");
        }
    }

    [Fact]
    public void Statistics_pooling_is_the_mean_and_population_std_of_each_clip_s_own_frames()
    {
        manual_seed(21);
        using var scope = NewDisposeScope();
        using var model = new SerModel(Small with { Pooling = SummaryPooling.MeanStd });
        model.eval();
        var lengths = new[] { 5, 23, 1, 23, 9 }; // unsorted, a tie, a one-frame clip
        var sequences = lengths.Select(length => randn(length, 80)).ToArray();
        using var noGrad = no_grad();
        var summary = model.Summary(pack_sequence(sequences, enforce_sorted: false));
        Assert.Equal(new long[] { lengths.Length, 4 * Small.HiddenSize }, summary.shape);
        for (var i = 0; i < sequences.Length; i++)
        {
            // The clip alone through LibTorch's GRU, unbatched: (T, 2H) outputs; the summary's statistics over T.
            var (frames, _) = model.Gru.call(sequences[i].unsqueeze(1));
            var outputs = frames.squeeze(1);
            var expected = cat([outputs.mean([0]), outputs.var([0], unbiased: false).clamp_min(1e-5).sqrt()], 0);
            Assert.True(allclose(summary[i], expected, rtol: 1e-4, atol: 1e-5), $"clip {i} (length {lengths[i]}): pooled statistics differ");
        }
    }

    [Fact]
    public void Attentive_pooling_with_equal_scores_is_statistics_pooling_and_its_weights_follow_the_scores()
    {
        manual_seed(22);
        using var scope = NewDisposeScope();
        using var attentive = new SerModel(Small with { Pooling = SummaryPooling.Attentive });
        using var plain = new SerModel(Small with { Pooling = SummaryPooling.MeanStd });
        attentive.eval();
        plain.eval();
        var sequences = new[] { 6, 14, 2 }.Select(length => randn(length, 80)).ToArray();
        using var noGrad = no_grad();
        // Same GRU weights in both models.
        foreach (var (name, parameter) in plain.Gru.named_parameters()) parameter.copy_(attentive.Gru.get_parameter(name)!);
        attentive.AttentionScore!.weight!.zero_();
        attentive.AttentionScore!.bias!.zero_();
        var uniform = attentive.Summary(pack_sequence(sequences, enforce_sorted: false));
        Assert.True(allclose(uniform, plain.Summary(pack_sequence(sequences, enforce_sorted: false)), rtol: 1e-4, atol: 1e-6));
        // With scores of their own the weights are no longer uniform, and the summary moves.
        attentive.AttentionScore!.weight!.normal_(0, 1);
        var weighted = attentive.Summary(pack_sequence(sequences, enforce_sorted: false));
        Assert.False(allclose(uniform, weighted, rtol: 1e-3, atol: 1e-4));
        Assert.True(weighted.isfinite().all().item<bool>());
    }

    [Fact]
    public void ModelHasTheRecipesLayers()
    {
        using var model = new SerModel(new ModelOptions());
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 3 * 256, 80 }, shapes["gru.weight_ih_l0"]);
        Assert.Equal(new long[] { 3 * 256, 512 }, shapes["gru.weight_ih_l1_reverse"]);
        Assert.Equal(new long[] { 512 }, shapes["norm.weight"]);
        Assert.Equal(new long[] { 256, 512 }, shapes["fc1.weight"]);
        Assert.Equal(new long[] { 6, 256 }, shapes["fc2.weight"]);
        Assert.DoesNotContain(shapes.Keys, name => name.Contains("conv", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(shapes.Keys, name => name.StartsWith("attention", StringComparison.Ordinal));

        // Statistics pooling doubles the summary the head sees; attentive pooling adds its scorer.
        using var pooled = new SerModel(new ModelOptions(Pooling: SummaryPooling.Attentive));
        var pooledShapes = pooled.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new long[] { 1024 }, pooledShapes["norm.weight"]);
        Assert.Equal(new long[] { 256, 1024 }, pooledShapes["fc1.weight"]);
        Assert.Equal(new long[] { 128, 512 }, pooledShapes["attention_hidden.weight"]);
        Assert.Equal(new long[] { 1, 128 }, pooledShapes["attention_score.weight"]);
    }

    [Theory]
    [InlineData(false, SummaryPooling.LastState)]
    [InlineData(true, SummaryPooling.LastState)]
    [InlineData(false, SummaryPooling.MeanStd)]
    [InlineData(true, SummaryPooling.MeanStd)]
    [InlineData(true, SummaryPooling.Attentive)]
    public void FusedKernelComputesTheNativeGrusOutputAndGradients(bool concurrentDirections, SummaryPooling pooling)
    {
        manual_seed(5);
        using var scope = NewDisposeScope();
        using var model = new SerModel(Small with { Pooling = pooling }) { ConcurrentGruDirections = concurrentDirections };
        model.eval(); // no dropout, so both kernels see identical inputs
        var lengths = new[] { 9, 3, 17, 17, 1, 12 };
        var sequences = lengths.Select(length => randn(length, 80)).ToArray();
        var labels = tensor(new long[] { 0, 5, 2, 3, 1, 4 });

        (Tensor Logits, Dictionary<string, Tensor> Gradients) Run(GruKernel kernel)
        {
            model.Kernel = kernel;
            model.zero_grad();
            var logits = model.call(pack_sequence(sequences, enforce_sorted: false));
            nn.functional.cross_entropy(logits, labels).backward();
            return (logits.detach().clone(), model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }

        var native = Run(GruKernel.Native);
        var fused = Run(GruKernel.Fused);
        Assert.True(allclose(native.Logits, fused.Logits, rtol: 1e-4, atol: 1e-6));
        foreach (var (name, gradient) in native.Gradients)
        {
            Assert.True(gradient.abs().sum().item<float>() > 0, $"{name} has no gradient");
            Assert.True(allclose(gradient, fused.Gradients[name], rtol: 1e-3, atol: 1e-6), $"{name}: fused gradient differs from native");
        }
    }

    [Fact]
    public void FusedKernelAppliesInterLayerDropoutOnlyWhenTraining()
    {
        manual_seed(8);
        using var scope = NewDisposeScope();
        using var model = new SerModel(Small with { Dropout = 0.5 }) { Kernel = GruKernel.Fused };
        var sequences = new[] { randn(10, 80), randn(6, 80) };
        model.eval();
        var first = model.call(pack_sequence(sequences, enforce_sorted: false));
        var second = model.call(pack_sequence(sequences, enforce_sorted: false));
        Assert.True(first.allclose(second, rtol: 0, atol: 0));
        model.train();
        var trainingA = model.call(pack_sequence(sequences, enforce_sorted: false));
        var trainingB = model.call(pack_sequence(sequences, enforce_sorted: false));
        Assert.False(trainingA.allclose(trainingB, rtol: 0, atol: 0));
    }

    [Fact]
    public void DropoutWithAGeneratorDrawsTheMasksOfLibTorchsDropout()
    {
        using var scope = NewDisposeScope();
        var input = randn(37, 53);
        manual_seed(21);
        var libTorch = nn.functional.dropout(input, 0.35, training: true);
        using var generator = new Generator(21);
        var ours = ModelDropout.Apply(input, 0.35, generator);
        Assert.True(libTorch.allclose(ours, rtol: 0, atol: 0), "a generator seeded like the default one must give LibTorch's masks and scaling");
        Assert.True(ours.eq(0).sum().item<long>() > 0);
    }

    [Fact]
    public void DropoutByDirectionDrawsEachHalfFromItsOwnStream()
    {
        using var scope = NewDisposeScope();
        var input = randn(41, 2 * 24);
        Tensor ByDirection(long forwardSeed, long backwardSeed)
        {
            var forward = new DropoutStream();
            var backward = new DropoutStream();
            forward.Reset(forwardSeed);
            backward.Reset(backwardSeed);
            return ModelDropout.ApplyByDirection(input, 0.35, [forward, backward], intraOpThreads: 1);
        }
        var dropped = ByDirection(7, 8);
        // The same streams give the same masks, whatever the interleaving of the two threads.
        Assert.True(dropped.allclose(ByDirection(7, 8), rtol: 0, atol: 0));
        // Each half depends on its own stream alone.
        var otherBackward = ByDirection(7, 9);
        Assert.True(dropped.narrow(1, 0, 24).allclose(otherBackward.narrow(1, 0, 24), rtol: 0, atol: 0));
        Assert.False(dropped.narrow(1, 24, 24).allclose(otherBackward.narrow(1, 24, 24), rtol: 0, atol: 0));
        var otherForward = ByDirection(6, 8);
        Assert.False(dropped.narrow(1, 0, 24).allclose(otherForward.narrow(1, 0, 24), rtol: 0, atol: 0));
        Assert.True(dropped.narrow(1, 24, 24).allclose(otherForward.narrow(1, 24, 24), rtol: 0, atol: 0));
        // Dropout's distribution and scaling: about 1 − p kept, each kept element divided by 1 − p.
        var kept = dropped.ne(0).sum().item<long>() / (double)dropped.numel();
        Assert.InRange(kept, 0.55, 0.75);
        Assert.True(dropped.masked_select(dropped.ne(0)).allclose(input.masked_select(dropped.ne(0)) / 0.65, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void DropoutStreamsMoveOnAndRepeatAfterAReset()
    {
        using var scope = NewDisposeScope();
        var input = ones(300, 2 * 32);
        var streams = new[] { new DropoutStream(), new DropoutStream() };
        foreach (var stream in streams) stream.Reset(11);
        var first = ModelDropout.ApplyByDirection(input, 0.35, streams, intraOpThreads: 1);
        Assert.Equal(300UL * 32, streams[0].Position);
        var second = ModelDropout.ApplyByDirection(input, 0.35, streams, intraOpThreads: 1);
        Assert.False(first.allclose(second, rtol: 0, atol: 0), "the next batch gets the next elements of the stream");
        foreach (var stream in streams) stream.Reset(11);
        Assert.True(first.allclose(ModelDropout.ApplyByDirection(input, 0.35, streams, intraOpThreads: 1), rtol: 0, atol: 0));
        // Over 19,200 draws the keep rate is 1 − p within a few standard errors (0.0034).
        Assert.InRange(first.ne(0).sum().item<long>() / (double)first.numel(), 0.635, 0.665);
    }

    [Fact]
    public void DropoutByDirectionPassesTheGradientThroughTheKeptElementsOnly()
    {
        using var scope = NewDisposeScope();
        var input = randn(23, 2 * 16).requires_grad_(true);
        var streams = new[] { new DropoutStream(), new DropoutStream() };
        streams[0].Reset(3);
        streams[1].Reset(4);
        var dropped = ModelDropout.ApplyByDirection(input, 0.35, streams, intraOpThreads: 1);
        var weights = randn(23, 2 * 16);
        dropped.mul(weights).sum().backward();
        var keptMask = dropped.detach().ne(0).to_type(ScalarType.Float32);
        Assert.True(input.grad!.allclose(weights * keptMask / 0.65, rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void ModelDrawsItsDropoutFromTheGivenGenerator()
    {
        using var scope = NewDisposeScope();
        using var model = new SerModel(Small with { Dropout = 0.5 }) { Kernel = GruKernel.Fused };
        model.train();
        var sequences = new[] { randn(10, 80), randn(6, 80), randn(8, 80) };
        Tensor Run(long seed)
        {
            using var generator = new Generator((ulong)seed);
            // The default generator moves between the runs: only the given one may matter.
            manual_seed(seed + 1000);
            return model.Forward(pack_sequence(sequences, enforce_sorted: false), generator);
        }
        Assert.True(Run(3).allclose(Run(3), rtol: 0, atol: 0));
        Assert.False(Run(3).allclose(Run(4), rtol: 0, atol: 0));
        model.Kernel = GruKernel.Native;
        Assert.Throws<InvalidOperationException>(() => Run(3));
    }
}
