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
    /// <see cref="Apply"/> for a layer output whose two column halves are a GRU layer's two directions (rows × 2H), with
    /// concurrent directions: half d's mask comes from <paramref name="streams"/>[d] and is drawn, applied, and in the
    /// backward pass applied to the gradient, on direction thread d (<see cref="GruLayer.RunBoth"/>). Nothing of it runs
    /// on the calling thread alone: drawing masks with LibTorch's bernoulli_ and the multiplications autograd records
    /// were the largest serial cost of a step with concurrent directions. Each half has its own stream, so the masks do
    /// not depend on how the threads interleave.
    /// </summary>
    public static Tensor ApplyByDirection(Tensor input, double p, IReadOnlyList<DropoutStream> streams, int intraOpThreads)
    {
        if (streams.Count != 2) throw new ArgumentException("One dropout stream per direction is needed.", nameof(streams));
        if (p == 0) return input.alias();
        return DirectionDropout.apply(input, p, streams[0], streams[1], intraOpThreads);
    }
}

/// <summary>
/// A deterministic source of dropout keep/drop decisions for one direction of one shard: counter-based (the decision
/// for element k of the stream is a SplitMix64 hash of the key and k), so drawing is a tight loop on the direction's
/// own thread, several times faster than LibTorch's bernoulli_, and its result depends only on the seed and how many
/// elements were drawn before. Reset each epoch from <see cref="Seeds.DirectionDropout"/>.
/// </summary>
public sealed class DropoutStream
{
    private ulong key;

    /// <summary>Elements drawn since the last <see cref="Reset"/>.</summary>
    public ulong Position { get; private set; }

    public void Reset(long seed)
    {
        key = unchecked((ulong)seed);
        Position = 0;
    }

    /// <summary>Reserves the next <paramref name="count"/> elements; returns the first one's position.</summary>
    internal ulong Take(long count)
    {
        var first = Position;
        Position += (ulong)count;
        return first;
    }

    /// <summary>
    /// 1 if element <paramref name="position"/> of the stream is kept (a uniform 24-bit draw below
    /// <paramref name="threshold"/>), else 0; computed without a branch, as a third of the draws go each way.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal byte Keep(ulong position, ulong threshold)
    {
        var z = unchecked(key + position * 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        // (draw − threshold) wraps to a value with its top bit set exactly when draw < threshold.
        return (byte)(unchecked((z >> 40) - threshold) >> 63);
    }

    /// <summary>The 24-bit threshold below which a draw keeps its element: keep probability 1 − p.</summary>
    internal static ulong Threshold(double p) => (ulong)Math.Round((1 - p) * (1 << 24));
}

/// <summary>
/// Inter-layer dropout by direction halves as an autograd function (see <see cref="ModelDropout.ApplyByDirection"/>):
/// forward draws half d's keep mask from its stream and writes input ⊙ mask / (1 − p) on direction thread d; backward
/// multiplies the gradient by the same mask, by halves on the same two threads. CPU float32 (the fast loop's tensors);
/// on another device the mask is drawn the same way on the host and applied there.
/// </summary>
/// <remarks>Arguments: input (rows × 2H), p, stream of direction 0, stream of direction 1, intra-op threads per direction.</remarks>
internal sealed class DirectionDropout : autograd.SingleTensorFunction<DirectionDropout>
{
    public override string Name => nameof(DirectionDropout);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var input = (Tensor)vars[0];
        var p = (double)vars[1];
        var streams = new[] { (DropoutStream)vars[2], (DropoutStream)vars[3] };
        var threads = (int)vars[4];
        if (input.dim() != 2 || input.shape[1] % 2 != 0) throw new ArgumentException("Expected a rows × 2H layer output.", nameof(vars));
        var rows = input.shape[0];
        var half = input.shape[1] / 2;
        var scale = (float)(1 / (1 - p));
        var threshold = DropoutStream.Threshold(p);
        var firsts = new[] { streams[0].Take(rows * half), streams[1].Take(rows * half) };
        var onHost = input.device_type == DeviceType.CPU && input.dtype == ScalarType.Float32;
        // One byte per element: whether it is kept. Allocated here so it belongs to the caller's scope.
        var mask = empty(rows, 2 * half, dtype: ScalarType.Byte);
        var source = onHost ? input.contiguous() : null;
        var output = onHost ? empty_like(input, dtype: ScalarType.Float32) : null;
        GruLayer.RunBoth(concurrent: true, threads, direction =>
        {
            var keeps = mask.bytes;
            var from = source is null ? default : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source.bytes);
            var to = output is null ? default : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(output.bytes);
            DrawHalf(keeps, from, to, source is not null, streams[direction], firsts[direction], rows, (int)half, direction, threshold, scale);
        });
        ctx.save_for_backward([mask]);
        ctx.save_data("scale", scale);
        ctx.save_data("threads", threads);
        if (output is not null) return output;
        // Another device: apply the host-drawn mask there (one multiplication, on the calling thread).
        using var onDevice = mask.to(input.dtype).to(input.device);
        using var scaleScalar = scale.ToScalar();
        return input.mul(onDevice).mul_(scaleScalar);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var mask = ctx.get_saved_variables()[0];
        var scale = (float)ctx.get_data("scale");
        var threads = (int)ctx.get_data("threads");
        if (gradOutput.device_type != DeviceType.CPU || gradOutput.dtype != ScalarType.Float32)
        {
            using var onDevice = mask.to(gradOutput.dtype).to(gradOutput.device);
            using var scaleScalar = scale.ToScalar();
            return [gradOutput.mul(onDevice).mul_(scaleScalar), null!, null!, null!, null!];
        }
        var gradient = gradOutput.contiguous();
        var gradInput = empty_like(gradient);
        var rows = mask.shape[0];
        var half = mask.shape[1] / 2;
        GruLayer.RunBoth(concurrent: true, threads, direction =>
        {
            var keeps = mask.bytes;
            var from = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(gradient.bytes);
            var to = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(gradInput.bytes);
            MaskHalf(keeps, from, to, rows, (int)half, direction, scale);
        });
        return [gradInput, null!, null!, null!, null!];
    }

    // Fully optimised from the first call (these run a few dozen times per epoch, too few for tiered compilation).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void DrawHalf(Span<byte> keeps, ReadOnlySpan<float> from, Span<float> to, bool apply, DropoutStream stream, ulong position,
        long rows, int half, int direction, ulong threshold, float scale)
    {
        var width = 2 * half;
        for (long row = 0; row < rows; row++, position += (ulong)half)
        {
            var start = (int)(row * width) + direction * half;
            var rowKeeps = keeps.Slice(start, half);
            for (var j = 0; j < rowKeeps.Length; j++) rowKeeps[j] = stream.Keep(position + (ulong)j, threshold);
            if (!apply) continue;
            var rowFrom = from.Slice(start, half);
            var rowTo = to.Slice(start, half);
            for (var j = 0; j < rowTo.Length; j++) rowTo[j] = rowFrom[j] * (rowKeeps[j] * scale);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void MaskHalf(ReadOnlySpan<byte> keeps, ReadOnlySpan<float> from, Span<float> to, long rows, int half, int direction, float scale)
    {
        var width = 2 * half;
        for (long row = 0; row < rows; row++)
        {
            var start = (int)(row * width) + direction * half;
            var rowKeeps = keeps.Slice(start, half);
            var rowFrom = from.Slice(start, half);
            var rowTo = to.Slice(start, half);
            for (var j = 0; j < rowTo.Length; j++) rowTo[j] = rowFrom[j] * (rowKeeps[j] * scale);
        }
    }
}
