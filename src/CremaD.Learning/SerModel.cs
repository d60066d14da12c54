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

    public SerModel(ModelOptions options) : base(nameof(SerModel))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        // PyTorch applies inter-layer dropout only between stacked layers (and warns when asked for one layer).
        var interLayerDropout = options.NumLayers > 1 ? options.Dropout : 0.0;
        gru = nn.GRU(options.InputSize, options.HiddenSize, options.NumLayers,
            bias: true, batchFirst: false, dropout: interLayerDropout, bidirectional: true);
        norm = nn.LayerNorm(2L * options.HiddenSize);
        dropout1 = nn.Dropout(options.Dropout);
        fc1 = nn.Linear(2L * options.HiddenSize, options.HiddenSize);
        relu = nn.ReLU();
        dropout2 = nn.Dropout(options.Dropout);
        fc2 = nn.Linear(options.HiddenSize, options.Classes);
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
        using var summary = fused
            ? PackedGru.TopLayerSummary(gru, Options, input, training, ConcurrentGruDirections, dropoutGenerator, directionDropoutStreams)
            : NativeSummary(input);
        using var normalised = norm.call(summary);
        using var dropped1 = Dropout(dropout1, normalised, dropoutGenerator);
        using var hidden = fc1.call(dropped1);
        using var activated = relu.call(hidden);
        using var dropped2 = Dropout(dropout2, activated, dropoutGenerator);
        return fc2.call(dropped2);
    }

    private static Tensor Dropout(Dropout module, Tensor input, Generator? generator) =>
        generator is null || !module.training ? module.call(input) : ModelDropout.Apply(input, module.p, generator);

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
