using TorchSharp;
using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>Training-mode dropout with a choice of random generator.</summary>
internal static class ModelDropout
{
    /// <summary>
    /// Zeroes each element with probability <paramref name="p"/> and scales the rest by 1/(1−p). With no generator
    /// this is LibTorch's own <c>dropout</c>, drawing from its default generator. With one, it is the same arithmetic
    /// LibTorch's CPU dropout performs (ATen <c>_dropout_impl</c>: noise = empty_like(x).bernoulli_(1−p), noise /= 1−p,
    /// x · noise) with the masks drawn from <paramref name="generator"/>, so a generator seeded like the default one
    /// gives the same masks; nn.functional.dropout takes no generator, hence this.
    /// </summary>
    public static Tensor Apply(Tensor input, double p, Generator? generator)
    {
        if (generator is null || p == 0) return nn.functional.dropout(input, p, training: true);
        // Held, not an implicit temporary: this runs on concurrent threads (see GruLayer.Constants).
        using var keep = (1 - p).ToScalar();
        using var noise = empty_like(input);
        noise.bernoulli_(1 - p, generator).div_(keep);
        return input.mul(noise);
    }

    /// <summary>
    /// <see cref="Apply"/> for a layer output whose two column halves are a GRU layer's two directions (rows × 2H): the
    /// mask of half d is drawn from <paramref name="halfGenerators"/>[d] on direction thread d (<see cref="GruLayer.RunBoth"/>),
    /// so drawing the masks, one random number per element and the largest serial cost left in a step with concurrent
    /// directions, is split over the two threads as the layer itself is. Each half has its own generator, so the masks do
    /// not depend on how the threads interleave. Only the multiplication, which autograd records, runs on the caller.
    /// </summary>
    public static Tensor ApplyByDirection(Tensor input, double p, IReadOnlyList<Generator> halfGenerators, int intraOpThreads)
    {
        if (halfGenerators.Count != 2) throw new ArgumentException("One generator per direction is needed.", nameof(halfGenerators));
        if (p == 0) return input.alias();
        var half = input.shape[1] / 2;
        var noise = empty_like(input);
        GruLayer.RunBoth(concurrent: true, intraOpThreads, direction =>
        {
            using var keep = (1 - p).ToScalar();
            noise.narrow(1, direction * half, half).bernoulli_(1 - p, halfGenerators[direction]).div_(keep);
        });
        using (noise) return input.mul(noise);
    }
}
