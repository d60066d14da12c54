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
}
