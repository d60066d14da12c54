using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using PackedSequence = TorchSharp.torch.nn.utils.rnn.PackedSequence;

namespace CremaD.Learning;

/// <summary>
/// The speech-emotion classifier: a bidirectional GRU over a packed batch of variable-length log-mel sequences
/// (no padding, no convolutions), summarised by the top layer's last hidden states (forward ‖ backward), then
/// LayerNorm → Dropout → Linear(2H→H) → ReLU → Dropout → Linear(H→classes). Returns logits in the batch's
/// original (unsorted) order.
/// </summary>
/// <remarks>The field names are the parameter names in saved weights: renaming one breaks every saved model.</remarks>
public sealed class SerModel : nn.Module<PackedSequence, Tensor>
{
    private readonly GRU gru;
    private readonly LayerNorm norm;
    private readonly Dropout dropout1;
    private readonly Linear fc1;
    private readonly ReLU relu;
    private readonly Dropout dropout2;
    private readonly Linear fc2;
    // Attentive pooling only (null otherwise, and then not registered: the seed's weights keep their names and shapes).
    private readonly Linear? attention_hidden;
    private readonly Linear? attention_score;

    public SerModel(ModelOptions options) : base(nameof(SerModel))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        // PyTorch applies inter-layer dropout only between stacked layers (and warns when asked for one layer).
        var interLayerDropout = options.NumLayers > 1 ? options.Dropout : 0.0;
        gru = nn.GRU(options.InputSize, options.HiddenSize, options.NumLayers,
            bias: true, batchFirst: false, dropout: interLayerDropout, bidirectional: true);
        var summarySize = (options.Pooling == SummaryPooling.LastState ? 2L : 4L) * options.HiddenSize;
        norm = nn.LayerNorm(summarySize);
        dropout1 = nn.Dropout(options.Dropout);
        fc1 = nn.Linear(summarySize, options.HiddenSize);
        relu = nn.ReLU();
        dropout2 = nn.Dropout(options.Dropout);
        fc2 = nn.Linear(options.HiddenSize, options.Classes);
        // Created after the seed's layers, so the seed's initial weights do not depend on whether these exist.
        if (options.Pooling == SummaryPooling.Attentive)
        {
            attention_hidden = nn.Linear(2L * options.HiddenSize, options.AttentionSize);
            attention_score = nn.Linear(options.AttentionSize, 1);
        }
        RegisterComponents();
    }

    public ModelOptions Options { get; }

    /// <summary>Held while a model is built (its weights come from LibTorch's process-wide generator): see TrainingSession.</summary>
    internal static readonly object ConstructionLock = new();

    /// <summary>
    /// Which GRU implementation <see cref="forward"/> uses when gradients are recorded; the parameters and the function
    /// computed are the same. Without gradients (evaluation, inference) the native kernel always runs: the fused one
    /// only pays off in the backward pass.
    /// </summary>
    public GruKernel Kernel { get; set; } = GruKernel.Native;

    /// <summary>
    /// Whether the fused kernel runs each layer's two directions, input projections included, concurrently on two
    /// threads (each with the calling thread's LibTorch intra-op thread count) instead of one after the other on the
    /// calling thread. Same function; the gradients differ only by float rounding (the input projection's matrix
    /// products are split by direction).
    /// </summary>
    public bool ConcurrentGruDirections { get; set; }

    public override Tensor forward(PackedSequence input) => Forward(input, dropoutGenerator: null);

    /// <summary>
    /// The forward pass, drawing every dropout mask from <paramref name="dropoutGenerator"/> (null: LibTorch's default
    /// generator, as <see cref="nn.Module{T, TResult}.call"/> does). Threads that run the model concurrently each pass
    /// their own generator, so their masks do not depend on how the threads interleave.
    /// </summary>
    /// <param name="directionDropoutStreams">
    /// With <see cref="ConcurrentGruDirections"/>: two <see cref="DropoutStream"/>s, one per direction, for the halves of the inter-layer
    /// dropout masks, drawn on the direction threads (see <see cref="ModelDropout.ApplyByDirection"/>); null: the whole
    /// masks from <paramref name="dropoutGenerator"/>.
    /// </param>
    public Tensor Forward(PackedSequence input, Generator? dropoutGenerator, IReadOnlyList<DropoutStream>? directionDropoutStreams = null)
    {
        var fused = Kernel == GruKernel.Fused && is_grad_enabled();
        // nn.GRU draws its inter-layer dropout masks from the default generator; only the fused kernel can take another.
        if (dropoutGenerator is not null && !fused && training && is_grad_enabled() && Options.NumLayers > 1 && Options.Dropout > 0)
            throw new InvalidOperationException("A dropout generator needs the fused GRU kernel when training a multi-layer GRU.");
        using var summary = Options.Pooling == SummaryPooling.LastState
            ? fused
                ? PackedGru.TopLayerSummary(gru, Options, input, training, ConcurrentGruDirections, dropoutGenerator, directionDropoutStreams)
                : NativeSummary(input)
            : PooledSummary(input, fused, dropoutGenerator, directionDropoutStreams);
        using var normalised = norm.call(summary);
        using var dropped1 = Dropout(dropout1, normalised, dropoutGenerator);
        using var hidden = fc1.call(dropped1);
        using var activated = relu.call(hidden);
        using var dropped2 = Dropout(dropout2, activated, dropoutGenerator);
        return fc2.call(dropped2);
    }

    /// <summary>The clip summaries the head sees, (batch, 2H or 4H), with LibTorch's own GRU kernel: for tests.</summary>
    internal Tensor Summary(PackedSequence input) =>
        Options.Pooling == SummaryPooling.LastState ? NativeSummary(input) : PooledSummary(input, fused: false, null, null);

    internal GRU Gru => gru;

    /// <summary>The attention scorer's output layer (null unless <see cref="SummaryPooling.Attentive"/>): for tests.</summary>
    internal Linear? AttentionScore => attention_score;

    private static Tensor Dropout(Dropout module, Tensor input, Generator? generator) =>
        generator is null || !module.training ? module.call(input) : ModelDropout.Apply(input, module.p, generator);

    /// <summary>
    /// Statistics pooling over every frame of each clip: mean ‖ standard deviation of the top layer's outputs,
    /// uniformly weighted (<see cref="SummaryPooling.MeanStd"/>) or by attention (<see cref="SummaryPooling.Attentive"/>),
    /// (batch, 4H) in the batch's original order. Works on the packed rows directly: per-clip sums are index_add
    /// over each row's clip, so no padding is ever formed.
    /// </summary>
    private Tensor PooledSummary(PackedSequence input, bool fused, Generator? dropoutGenerator, IReadOnlyList<DropoutStream>? directionDropoutStreams)
    {
        Tensor output;
        PackedSteps steps;
        if (fused)
        {
            (output, steps) = PackedGru.TopLayerOutput(gru, Options, input, training, ConcurrentGruDirections, dropoutGenerator, directionDropoutStreams);
        }
        else
        {
            var (packed, lastHidden) = gru.call(input);
            lastHidden.Dispose();
            output = packed.data;
            long[] batchSizes;
            using (var cpuSizes = input.batch_sizes.cpu()) batchSizes = cpuSizes.data<long>().ToArray();
            steps = new PackedSteps(batchSizes);
        }
        using var frames = output;
        using var clips = tensor(steps.RowSequences(), device: frames.device);
        var clipCount = steps.Sequences;
        var width = frames.shape[1];
        Tensor weights;
        if (attention_hidden is not null && attention_score is not null)
        {
            using var projected = attention_hidden.call(frames);
            using var activated = projected.tanh();
            using var scores = attention_score.call(activated);
            // A softmax within each clip. One shift for the whole batch keeps exp() finite and cancels in the ratio;
            // the scores are bounded (tanh features, one linear layer), so no clip underflows to all zeros.
            using var shift = scores.max().detach();
            using var shifted = scores - shift;
            using var exponentials = shifted.exp();
            using var emptySums = zeros(clipCount, 1, dtype: frames.dtype, device: frames.device);
            using var sums = emptySums.index_add(0, clips, exponentials, 1);
            using var rowSums = sums.index_select(0, clips);
            weights = exponentials / rowSums;
        }
        else
        {
            using var lengths = tensor(steps.Lengths(), dtype: frames.dtype, device: frames.device);
            using var inverse = lengths.reciprocal();
            using var rowWeights = inverse.index_select(0, clips);
            weights = rowWeights.unsqueeze(1);
        }
        using (weights)
        {
            using var empty = zeros(clipCount, width, dtype: frames.dtype, device: frames.device);
            using var weighted = frames * weights;
            using var mean = empty.index_add(0, clips, weighted, 1);
            using var rowMeans = mean.index_select(0, clips);
            using var deviations = frames - rowMeans;
            using var squares = deviations.square();
            using var weightedSquares = squares * weights;
            using var variance = empty.index_add(0, clips, weightedSquares, 1);
            // The floor keeps sqrt's gradient finite for a one-frame clip or a constant channel.
            using var floored = variance.clamp_min(1e-5);
            using var std = floored.sqrt();
            var summary = cat([mean, std], 1);
            if (input.unsorted_indices is null || input.unsorted_indices.IsInvalid) return summary;
            using (summary) return summary.index_select(0, input.unsorted_indices);
        }
    }

    private Tensor NativeSummary(PackedSequence input)
    {
        var (output, lastHidden) = gru.call(input);
        // Only h_n is used; release the per-frame outputs now rather than at the end of the caller's scope.
        output.Dispose();
        // h_n is (layers*2, batch, hidden) in the caller's batch order; the last two rows are the top layer.
        using var forwardState = lastHidden[-2];
        using var backwardState = lastHidden[-1];
        var summary = cat([forwardState, backwardState], 1);
        lastHidden.Dispose();
        return summary;
    }
}
