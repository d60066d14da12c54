using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using PackedSequence = TorchSharp.torch.nn.utils.rnn.PackedSequence;

namespace CremaD.Learning;

/// <summary>Which implementation runs <see cref="SerModel"/>'s GRU. Both use the same parameters and compute the same function.</summary>
public enum GruKernel
{
    /// <summary>LibTorch's own packed GRU (nn.GRU).</summary>
    Native,

    /// <summary>
    /// <see cref="PackedGru"/>: the same equations with a hand-written backward pass that computes each recurrent
    /// weight gradient with ONE matrix product over all frames instead of one small product (and one full-size
    /// gradient accumulation) per time step, and that can run a layer's two directions concurrently on two threads.
    /// </summary>
    Fused,
}

/// <summary>The time-step layout of a packed batch: how many sequences are active at each step and where its rows start.</summary>
internal sealed class PackedSteps
{
    public PackedSteps(long[] batchSizes)
    {
        BatchSizes = batchSizes;
        Offsets = new long[batchSizes.Length];
        long rows = 0;
        for (var t = 0; t < batchSizes.Length; t++)
        {
            Offsets[t] = rows;
            rows += batchSizes[t];
        }
        Rows = rows;
        Sequences = batchSizes.Length == 0 ? 0 : (int)batchSizes[0];
        // Sequence i (in sorted order) is active at every step whose batch size exceeds i; its last row is at its last step.
        LastRows = new long[Sequences];
        for (var t = 0; t < batchSizes.Length; t++)
        {
            for (var i = 0; i < batchSizes[t]; i++) LastRows[i] = Offsets[t] + i;
        }
    }

    public long[] BatchSizes { get; }
    public long[] Offsets { get; }
    public long Rows { get; }
    public int Steps => BatchSizes.Length;
    public int Sequences { get; }

    /// <summary>Packed row of each (sorted) sequence's final frame.</summary>
    public long[] LastRows { get; }

    /// <summary>The (sorted) sequence each packed row belongs to: row Offsets[t] + i is sequence i.</summary>
    public long[] RowSequences()
    {
        var sequences = new long[Rows];
        for (var t = 0; t < BatchSizes.Length; t++)
        {
            for (var i = 0; i < BatchSizes[t]; i++) sequences[Offsets[t] + i] = i;
        }
        return sequences;
    }

    /// <summary>Frames of each (sorted) sequence.</summary>
    public long[] Lengths()
    {
        var lengths = new long[Sequences];
        foreach (var size in BatchSizes)
        {
            for (var i = 0; i < size; i++) lengths[i]++;
        }
        return lengths;
    }
}

/// <summary>
/// A bidirectional multi-layer GRU over packed sequences computed with <see cref="GruLayer"/>, using the
/// parameters of a <see cref="GRU"/> module (so weights, saved models and initialisation are shared with the
/// native kernel). Equations as PyTorch's GRU: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
/// </summary>
internal static class PackedGru
{
    /// <summary>The top layer's final hidden states, forward ‖ backward, in the packed batch's original order: (batch, 2H).</summary>
    /// <param name="concurrentDirections">
    /// Run each layer's two directions, input projections included, on two threads (each with the calling thread's
    /// intra-op thread count); otherwise project both directions with one matrix product and run the directions one
    /// after the other on the calling thread.
    /// </param>
    /// <param name="dropoutGenerator">Source of the inter-layer dropout masks (null: LibTorch's default generator).</param>
    /// <param name="directionDropoutStreams">
    /// With concurrent directions: one <see cref="DropoutStream"/> per direction, each drawing and applying its half of the inter-layer dropout mask on
    /// its direction's thread (<see cref="ModelDropout.ApplyByDirection"/>); null: the whole mask from
    /// <paramref name="dropoutGenerator"/> on the calling thread.
    /// </param>
    public static Tensor TopLayerSummary(GRU gru, ModelOptions options, PackedSequence input, bool training, bool concurrentDirections,
        Generator? dropoutGenerator, IReadOnlyList<DropoutStream>? directionDropoutStreams = null)
    {
        var (output, steps) = TopLayerOutput(gru, options, input, training, concurrentDirections, dropoutGenerator, directionDropoutStreams);
        var hidden = options.HiddenSize;
        // The forward direction ends at each sequence's last frame; the backward direction at frame 0 (the first rows).
        using var lastRows = tensor(steps.LastRows, device: output.device);
        var summary = cat([output.narrow(1, 0, hidden).index_select(0, lastRows), output.narrow(1, hidden, hidden).narrow(0, 0, steps.Sequences)], 1);
        return input.unsorted_indices is null || input.unsorted_indices.IsInvalid ? summary : summary.index_select(0, input.unsorted_indices);
    }

    /// <summary>
    /// Every frame's top-layer output, forward ‖ backward (rows × 2H) in packed order (sequences sorted longest
    /// first, as <see cref="PackedSequence.data"/>), with the batch's step layout. Parameters as <see cref="TopLayerSummary"/>.
    /// </summary>
    public static (Tensor Output, PackedSteps Steps) TopLayerOutput(GRU gru, ModelOptions options, PackedSequence input, bool training,
        bool concurrentDirections, Generator? dropoutGenerator, IReadOnlyList<DropoutStream>? directionDropoutStreams = null)
    {
        long[] batchSizes;
        using (var cpuSizes = input.batch_sizes.cpu()) batchSizes = cpuSizes.data<long>().ToArray();
        var steps = new PackedSteps(batchSizes);
        var parameters = new Dictionary<string, Parameter>();
        foreach (var (name, parameter) in gru.named_parameters()) parameters[name] = parameter;
        var hidden = options.HiddenSize;
        var run = new GruLayer.Run(concurrentDirections, get_num_threads());

        var layerInput = input.data;
        Tensor? output = null;
        for (var layer = 0; layer < options.NumLayers; layer++)
        {
            Tensor Weight(string kind, string suffix = "") => parameters[$"{kind}_l{layer}{suffix}"];
            if (concurrentDirections)
            {
                // Each direction thread projects the input itself: no matrix product is left for one thread alone.
                output = GruLayer.apply(layerInput, Weight("weight_hh"), Weight("bias_hh"), Weight("weight_hh", "_reverse"), Weight("bias_hh", "_reverse"),
                    Weight("weight_ih"), Weight("bias_ih"), Weight("weight_ih", "_reverse"), Weight("bias_ih", "_reverse"), steps, run);
            }
            else
            {
                // Input projections for all frames and both directions in one matrix product.
                var weightIh = cat([Weight("weight_ih"), Weight("weight_ih", "_reverse")], 0);
                var biasIh = cat([Weight("bias_ih"), Weight("bias_ih", "_reverse")], 0);
                var projections = nn.functional.linear(layerInput, weightIh, biasIh);
                output = GruLayer.apply(projections, Weight("weight_hh"), Weight("bias_hh"), Weight("weight_hh", "_reverse"), Weight("bias_hh", "_reverse"),
                    null!, null!, null!, null!, steps, run);
            }
            // Between layers, as nn.GRU does: dropout on the lower layer's output when training.
            layerInput = layer == options.NumLayers - 1 || !training || options.Dropout <= 0 ? output
                : concurrentDirections && directionDropoutStreams is not null
                    ? ModelDropout.ApplyByDirection(output, options.Dropout, directionDropoutStreams, run.Threads)
                    : ModelDropout.Apply(output, options.Dropout, dropoutGenerator);
        }

        return (output!, steps);
    }
}

/// <summary>
/// Both directions of one GRU layer over a packed batch. Returns every frame's hidden state, forward ‖ backward
/// (rows × 2H), in packed order. The backward pass keeps the per-step recursion for the hidden state but collects the
/// gate gradients of all frames and forms dW_hh and db_hh with one matrix product at the end. Two forms:
/// <list type="bullet">
/// <item>given the input projections of every frame (rows × 6H: forward gates then backward gates, computed by the
/// caller with one matrix product whose gradient autograd forms), the directions run one after the other on the
/// calling thread;</item>
/// <item>given the layer's input and the W_ih/b_ih of both directions, the two directions are independent from the
/// input on: each runs on its own thread, projecting the input, running the recurrence and, in the backward pass,
/// forming its dW_ih, db_ih and its share of the input gradient (added on the calling thread). Only the two threads'
/// dispatch and that one addition are left between them.</item>
/// </list>
/// </summary>
/// <remarks>
/// Arguments: projections or input; weight_hh, bias_hh, weight_hh_reverse, bias_hh_reverse; weight_ih, bias_ih,
/// weight_ih_reverse, bias_ih_reverse (null when projections are given); <see cref="PackedSteps"/>; <see cref="Run"/>.
/// </remarks>
internal sealed class GruLayer : autograd.SingleTensorFunction<GruLayer>
{
    /// <param name="Concurrent">Run the directions on two threads (required with input weights, ignored with projections).</param>
    /// <param name="Threads">LibTorch intra-op threads of each direction thread.</param>
    internal sealed record Run(bool Concurrent, int Threads);

    public override string Name => nameof(GruLayer);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var first = (Tensor)vars[0];
        var weights = new[] { (Tensor)vars[1], (Tensor)vars[3] };
        var biases = new[] { (Tensor)vars[2], (Tensor)vars[4] };
        var projecting = vars[5] is Tensor;
        var inputWeights = projecting ? new[] { (Tensor)vars[5], (Tensor)vars[7] } : null;
        var inputBiases = projecting ? new[] { (Tensor)vars[6], (Tensor)vars[8] } : null;
        var steps = (PackedSteps)vars[9];
        var run = (Run)vars[10];
        var hidden = weights[0].shape[1];
        var rows = steps.Rows;
        var options = (first.dtype, first.device);

        // Everything the threads write is allocated here, on the calling thread, so it belongs to the caller's scope.
        var output = empty(rows, 2 * hidden, dtype: options.dtype, device: options.device);
        var saved = new DirectionBuffers[2];
        for (var d = 0; d < 2; d++) saved[d] = DirectionBuffers.Allocate(rows, hidden, options.dtype, options.device);
        RunBoth(projecting, run.Threads, direction =>
        {
            var projections = inputWeights is null
                ? first.narrow(1, direction * 3 * hidden, 3 * hidden)
                : addmm(inputBiases![direction], first, inputWeights[direction].t(), beta: 1, alpha: 1);
            Forward(projections, weights[direction], biases[direction], steps, reverse: direction == 1,
                output.narrow(1, direction * hidden, hidden), saved[direction]);
        });

        ctx.save_for_backward([weights[0], weights[1], .. saved[0].All, .. saved[1].All, .. projecting ? [first, .. inputWeights!] : Array.Empty<Tensor>()]);
        ctx.save_data("steps", steps);
        ctx.save_data("run", run);
        ctx.save_data("projecting", projecting);
        // Only the first layer's input (the features) needs no gradient.
        ctx.save_data("inputNeedsGradient", projecting && first.requires_grad);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var weights = new[] { saved[0], saved[1] };
        var buffers = new[] { DirectionBuffers.From(saved, 2), DirectionBuffers.From(saved, 2 + DirectionBuffers.Count) };
        var steps = (PackedSteps)ctx.get_data("steps");
        var run = (Run)ctx.get_data("run");
        var projecting = (bool)ctx.get_data("projecting");
        var inputNeedsGradient = (bool)ctx.get_data("inputNeedsGradient");
        var hidden = weights[0].shape[1];
        var gradOutputs = gradOutput.contiguous();
        var options = (gradOutput.dtype, gradOutput.device);

        var gradWeights = new Tensor[2];
        var gradBiases = new Tensor[2];
        for (var d = 0; d < 2; d++)
        {
            gradWeights[d] = empty_like(weights[d]);
            gradBiases[d] = empty(3 * hidden, dtype: options.dtype, device: options.device);
        }
        if (!projecting)
        {
            var gradProjections = empty(steps.Rows, 6 * hidden, dtype: options.dtype, device: options.device);
            RunBoth(false, run.Threads, direction => Backward(
                gradOutputs.narrow(1, direction * hidden, hidden), weights[direction], steps, reverse: direction == 1, buffers[direction],
                gradProjections.narrow(1, direction * 3 * hidden, 3 * hidden), gradWeights[direction], gradBiases[direction]));
            return [gradProjections, gradWeights[0], gradBiases[0], gradWeights[1], gradBiases[1], null!, null!, null!, null!, null!, null!];
        }

        var input = saved[2 + 2 * DirectionBuffers.Count];
        var inputWeights = new[] { saved[3 + 2 * DirectionBuffers.Count], saved[4 + 2 * DirectionBuffers.Count] };
        var gradInputWeights = new Tensor[2];
        var gradInputBiases = new Tensor[2];
        var gradInputs = new Tensor?[2];
        for (var d = 0; d < 2; d++)
        {
            gradInputWeights[d] = empty_like(inputWeights[d]);
            gradInputBiases[d] = empty(3 * hidden, dtype: options.dtype, device: options.device);
            gradInputs[d] = inputNeedsGradient ? empty_like(input) : null;
        }
        RunBoth(true, run.Threads, direction =>
        {
            var gradProjections = empty(steps.Rows, 3 * hidden, dtype: options.dtype, device: options.device);
            Backward(gradOutputs.narrow(1, direction * hidden, hidden), weights[direction], steps, reverse: direction == 1, buffers[direction],
                gradProjections, gradWeights[direction], gradBiases[direction]);
            // projections = input · W_ihᵀ + b_ih
            gradInputWeights[direction].copy_(gradProjections.t().mm(input));
            gradInputBiases[direction].copy_(gradProjections.sum(0L, keepdim: false));
            gradInputs[direction]?.copy_(gradProjections.mm(inputWeights[direction]));
        });
        Tensor? gradInput = null;
        if (inputNeedsGradient)
        {
            using var one = Constants.One();
            gradInput = gradInputs[0]!.add_(gradInputs[1]!, one);
        }
        return [gradInput!, gradWeights[0], gradBiases[0], gradWeights[1], gradBiases[1],
            gradInputWeights[0], gradInputBiases[0], gradInputWeights[1], gradInputBiases[1], null!, null!];
    }

    /// <summary>
    /// Runs the two directions without gradient recording (the caller's autograd mode does not reach a new thread):
    /// concurrently on two threads, each with <paramref name="threads"/> intra-op threads (LibTorch's setting is per
    /// thread), or one after the other on the calling thread with its own setting.
    /// </summary>
    internal static void RunBoth(bool concurrent, int threads, Action<int> direction)
    {
        void Run(int d)
        {
            if (concurrent && get_num_threads() != threads) set_num_threads(threads);
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            direction(d);
        }
        if (!concurrent)
        {
            Run(0);
            Run(1);
            return;
        }
        DirectionPartner.Run(partnerWork: () => Run(1), callerWork: () => Run(0));
    }

    private static void Forward(Tensor projections, Tensor weight, Tensor bias, PackedSteps steps, bool reverse, Tensor output,
        DirectionBuffers saved)
    {
        using var one = Constants.One();
        var hidden = weight.shape[1];
        var weightT = weight.t();
        var state = zeros(reverse ? steps.BatchSizes[^1] : steps.BatchSizes[0], hidden, dtype: projections.dtype, device: projections.device);
        for (var k = 0; k < steps.Steps; k++)
        {
            using var stepScope = NewDisposeScope();
            var t = reverse ? steps.Steps - 1 - k : k;
            var batch = steps.BatchSizes[t];
            var offset = steps.Offsets[t];
            var rows = state.shape[0];
            // Forward in time the batch shrinks as sequences end; backward in time new sequences start from zeros.
            var statePrevious = rows == batch ? state
                : rows > batch ? state.narrow(0, 0, batch)
                : cat([state, zeros(batch - rows, hidden, dtype: state.dtype, device: state.device)], 0);
            var inputGates = projections.narrow(0, offset, batch);
            var hiddenGates = addmm(bias, statePrevious, weightT, beta: 1, alpha: 1);
            var gates = inputGates.narrow(1, 0, 2 * hidden).add(hiddenGates.narrow(1, 0, 2 * hidden), one).sigmoid_();
            var reset = gates.narrow(1, 0, hidden);
            var update = gates.narrow(1, hidden, hidden);
            var hiddenCandidate = hiddenGates.narrow(1, 2 * hidden, hidden);
            var candidate = inputGates.narrow(1, 2 * hidden, hidden).addcmul(reset, hiddenCandidate, one).tanh_();
            // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
            var next = candidate.lerp(statePrevious, update);

            output.narrow(0, offset, batch).copy_(next);
            saved.Previous.narrow(0, offset, batch).copy_(statePrevious);
            saved.Gates.narrow(0, offset, batch).copy_(gates);
            saved.Candidates.narrow(0, offset, batch).copy_(candidate);
            saved.HiddenCandidates.narrow(0, offset, batch).copy_(hiddenCandidate);
            state = next.MoveToOuterDisposeScope();
        }
    }

    private static void Backward(Tensor gradOutput, Tensor weight, PackedSteps steps, bool reverse, DirectionBuffers saved,
        Tensor gradProjections, Tensor gradWeight, Tensor gradBias)
    {
        using var one = Constants.One();
        using var minusOne = Constants.MinusOne();
        var hidden = weight.shape[1];
        var gradHiddenGates = empty(steps.Rows, 3 * hidden, dtype: gradOutput.dtype, device: gradOutput.device);
        Tensor? carry = null;
        // Walk the steps in the opposite order to the forward pass.
        for (var k = steps.Steps - 1; k >= 0; k--)
        {
            using var stepScope = NewDisposeScope();
            var t = reverse ? steps.Steps - 1 - k : k;
            var batch = steps.BatchSizes[t];
            var offset = steps.Offsets[t];
            var gradState = gradOutput.narrow(0, offset, batch);
            if (carry is not null)
            {
                var carried = carry.shape[0];
                gradState = carried == batch ? gradState.add(carry, one)
                    : carried > batch ? gradState.add(carry.narrow(0, 0, batch), one)
                    : cat([gradState.narrow(0, 0, carried).add(carry, one), gradState.narrow(0, carried, batch - carried)], 0);
            }
            var gates = saved.Gates.narrow(0, offset, batch);
            var reset = gates.narrow(1, 0, hidden);
            var update = gates.narrow(1, hidden, hidden);
            var candidate = saved.Candidates.narrow(0, offset, batch);
            var hiddenCandidate = saved.HiddenCandidates.narrow(0, offset, batch);
            var statePrevious = saved.Previous.narrow(0, offset, batch);

            var gradThroughUpdate = gradState * update;                       // ∂h'/∂h, direct path
            var gradCandidate = gradState.sub(gradThroughUpdate);             // ⊙ (1 − z)
            var gradUpdate = gradState * statePrevious.sub(candidate);
            var gradCandidatePre = gradCandidate.addcmul(gradCandidate * candidate, candidate, minusOne); // ⊙ (1 − n²)
            var gradGatesPre = cat([gradCandidatePre * hiddenCandidate, gradUpdate], 1)
                .mul_(gates.addcmul(gates, gates, minusOne));                 // ⊙ σ'(·) for r and z
            var gradHidden = gradHiddenGates.narrow(0, offset, batch);
            gradHidden.narrow(1, 0, 2 * hidden).copy_(gradGatesPre);
            gradHidden.narrow(1, 2 * hidden, hidden).copy_(gradCandidatePre * reset);
            var gradInput = gradProjections.narrow(0, offset, batch);
            gradInput.narrow(1, 0, 2 * hidden).copy_(gradGatesPre);
            gradInput.narrow(1, 2 * hidden, hidden).copy_(gradCandidatePre);
            carry?.Dispose();
            carry = addmm(gradThroughUpdate, gradHidden, weight, beta: 1, alpha: 1).MoveToOuterDisposeScope();
        }
        carry?.Dispose();
        gradWeight.copy_(gradHiddenGates.t().mm(saved.Previous));
        gradBias.copy_(gradHiddenGates.sum(0L, keepdim: false));
    }

    /// <summary>
    /// Scalars for the element-wise ops, created and held by the thread that uses them. TorchSharp frees a Scalar in
    /// its finalizer and does not keep a temporary one (such as the implicit alpha of <c>a + b</c>) alive during the
    /// native call, so with two threads allocating, a collection triggered by one can free the other's temporary
    /// mid-call. Held in a <c>using</c> variable, a Scalar stays reachable until the work is done.
    /// </summary>
    private static class Constants
    {
        public static Scalar One() => 1.0f.ToScalar();

        public static Scalar MinusOne() => (-1.0f).ToScalar();
    }

    /// <summary>What the forward pass of one direction keeps for its backward pass (all rows × …, in packed order).</summary>
    private sealed record DirectionBuffers(Tensor Previous, Tensor Gates, Tensor Candidates, Tensor HiddenCandidates)
    {
        public const int Count = 4;

        public Tensor[] All => [Previous, Gates, Candidates, HiddenCandidates];

        public static DirectionBuffers Allocate(long rows, long hidden, ScalarType dtype, Device device) => new(
            empty(rows, hidden, dtype: dtype, device: device),
            empty(rows, 2 * hidden, dtype: dtype, device: device),
            empty(rows, hidden, dtype: dtype, device: device),
            empty(rows, hidden, dtype: dtype, device: device));

        public static DirectionBuffers From(IReadOnlyList<Tensor> saved, int start) =>
            new(saved[start], saved[start + 1], saved[start + 2], saved[start + 3]);
    }
}

/// <summary>
/// The thread that runs the second direction of <see cref="GruLayer.RunBoth"/> for one calling thread: long-lived, not a
/// thread-pool task, so a step never waits for a busy or starved pool (a service's pool also serves the broker, storage
/// and uploads), and LibTorch's per-thread intra-op setting is made once, not on whichever pool thread comes next. A
/// partner left idle for <see cref="IdleLifetime"/> (its calling thread finished training) ends itself; the next call
/// from that thread starts a new one.
/// </summary>
internal sealed class DirectionPartner
{
    private static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(30);

    [ThreadStatic]
    private static DirectionPartner? current;

    private readonly object gate = new();
    private readonly SemaphoreSlim start = new(0);
    private readonly ManualResetEventSlim done = new(false);
    private Action? work;
    private Exception? error;
    private bool retired;

    private DirectionPartner()
    {
        new Thread(Loop) { IsBackground = true, Name = "cremad-gru-direction" }.Start();
    }

    /// <summary>Runs <paramref name="partnerWork"/> on the partner and <paramref name="callerWork"/> here; returns when both have
    /// finished. The caller's exception wins over the partner's.</summary>
    public static void Run(Action partnerWork, Action callerWork)
    {
        var partner = current;
        if (partner is null || !partner.TryPost(partnerWork))
        {
            partner = current = new DirectionPartner();
            if (!partner.TryPost(partnerWork)) throw new InvalidOperationException("A new direction thread refused work.");
        }
        Exception? callerError = null;
        try
        {
            callerWork();
        }
        catch (Exception e)
        {
            callerError = e;
        }
        partner.done.Wait();
        var failure = callerError ?? partner.error;
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
    }

    private bool TryPost(Action partnerWork)
    {
        lock (gate)
        {
            if (retired) return false;
            work = partnerWork;
            error = null;
            done.Reset();
        }
        start.Release();
        return true;
    }

    private void Loop()
    {
        while (true)
        {
            if (!start.Wait(IdleLifetime))
            {
                lock (gate)
                {
                    // Work posted between the timeout and this lock has its Release on the way: take it.
                    if (work is null)
                    {
                        retired = true;
                        return;
                    }
                }
                start.Wait();
            }
            Action next;
            lock (gate)
            {
                next = work!;
                work = null;
            }
            try
            {
                next();
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                done.Set();
            }
        }
    }
}
