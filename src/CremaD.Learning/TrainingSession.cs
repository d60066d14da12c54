using System.Diagnostics;
using CremaD.Evaluation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.utils.rnn;

namespace CremaD.Learning;

/// <summary>Per-epoch training totals.</summary>
internal sealed record EpochTotals(double Loss, double Accuracy, long Frames, int Steps);

/// <summary>What one epoch produced and how long its parts took.</summary>
internal sealed record EpochMeasurement(EpochRecord Record, double TrainSeconds, double ValidationSeconds, long TrainFrames);

/// <summary>
/// The live objects of one training run on one device: model, optimiser, schedule, loss and the loop that feeds
/// them. Runs one epoch at a time; the caller (<see cref="Trainer"/>) decides about checkpoints and stopping.
/// Single-threaded, like the module it owns.
/// </summary>
internal sealed class TrainingSession : IDisposable
{
    private readonly Tensor? classWeights;
    private readonly float[]? classWeightValues;
    private readonly optim.lr_scheduler.LRScheduler scheduler;
    private readonly IEpochLoop loop;
    private readonly Parameter[] parameters;

    public TrainingSession(TrainingData data, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        data.Validate();
        Data = data;
        Options = options;
        Device = ComputeDevice.Resolve(options.Device);
        Threads = options.Threads ?? TrainingThreads.DefaultThreads;
        // The reference loop gives every thread to LibTorch's intra-op parallelism; the fast loop plans them (TrainingThreads),
        // and this thread runs shard 0 of every step.
        ThreadPlan = options.Loop == TrainingLoop.Fast ? TrainingThreads.For(Threads) : null;
        ComputeDevice.ApplyThreads(ThreadPlan is null ? Threads : TrainingThreads.IntraOpThreads);

        // Weights are drawn from LibTorch's process-wide generator; another model built at the same time in this process
        // (a second training, an evaluation's Predictor) would take numbers from between ours.
        lock (SerModel.ConstructionLock)
        {
            manual_seed(Seeds.Initialisation(options.Seed));
            if (Device.type == DeviceType.CUDA) cuda.manual_seed_all(Seeds.Initialisation(options.Seed));
            Model = new SerModel(options.ToModelOptions(data.Classes))
            {
                Kernel = options.Loop == TrainingLoop.Fast ? GruKernel.Fused : GruKernel.Native,
                ConcurrentGruDirections = ThreadPlan?.ConcurrentDirections ?? false,
            };
        }
        Model.to(Device);
        parameters = Model.parameters().ToArray();
        // TorchSharp's AdamW defaults to weight_decay 0 (PyTorch's to 0.01): the recipe's value is passed explicitly.
        Optimizer = optim.AdamW(parameters, lr: options.LearningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8,
            weight_decay: options.WeightDecay);
        // One scheduler step per epoch over T_max = epochs; the constructor's own step leaves the initial rate in place.
        scheduler = optim.lr_scheduler.CosineAnnealingLR(Optimizer, options.Epochs);
        classWeightValues = options.UseClassWeights ? ClassWeights.Balanced(data.Train, data.Classes) : null;
        classWeights = classWeightValues is null ? null : tensor(classWeightValues).to(Device);
        Normaliser = new FeatureNormaliser(data.Normalisation, Device);
        Augment = options.UseSpecAugment ? SpecAugment.Recipe : null;
        loop = options.Loop switch
        {
            TrainingLoop.Reference => new ReferenceLoop(),
            TrainingLoop.Fast => new FastLoop(this),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Loop, "Unknown training loop."),
        };
    }

    public TrainingData Data { get; }
    public TrainingOptions Options { get; }
    public Device Device { get; }

    /// <summary>Threads the run uses in total (<see cref="TrainingOptions.Threads"/>, by default every processor).</summary>
    public int Threads { get; }

    /// <summary>How the fast loop uses <see cref="Threads"/>; null for the reference loop.</summary>
    public TrainingThreads? ThreadPlan { get; }
    public SerModel Model { get; }
    public AdamW Optimizer { get; }
    public FeatureNormaliser Normaliser { get; }
    public SpecAugment? Augment { get; }

    /// <summary>Epochs whose scheduler step has been taken.</summary>
    public int CompletedEpochs { get; private set; }

    public int BatchesPerEpoch => (Data.Train.Count + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The learning rate the next epoch trains with.</summary>
    public double LearningRate => Optimizer.ParamGroups.First().LearningRate;

    public string DeviceName => Device.type == DeviceType.CUDA ? "cuda" : "cpu";

    /// <summary>Trains epoch <paramref name="epoch"/> (1-based, the next one), validates, and steps the schedule.</summary>
    public EpochMeasurement RunEpoch(int epoch, ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        if (epoch != CompletedEpochs + 1) throw new InvalidOperationException($"Epoch {epoch} cannot follow epoch {CompletedEpochs}.");
        // Every random draw of the epoch comes from these two generators, seeded from (seed, epoch) alone.
        manual_seed(Seeds.Torch(Options.Seed, epoch));
        if (Device.type == DeviceType.CUDA) cuda.manual_seed_all(Seeds.Torch(Options.Seed, epoch));
        var random = new Random(Seeds.Host(Options.Seed, epoch));
        var learningRate = LearningRate;

        // LibTorch's intra-op setting is per thread: this one may not be the thread that built the session.
        ComputeDevice.ApplyThreads(ThreadPlan is null ? Threads : TrainingThreads.IntraOpThreads);
        var clock = Stopwatch.StartNew();
        Model.train();
        var train = loop.Train(this, epoch, random, observer, cancellationToken);
        var trainSeconds = clock.Elapsed.TotalSeconds;
        Model.eval();
        var (validationLoss, validationAccuracy) = loop.Validate(this);
        Model.train();
        var seconds = clock.Elapsed.TotalSeconds;

        scheduler.step();
        CompletedEpochs = epoch;
        var record = new EpochRecord(epoch, train.Loss, train.Accuracy, validationLoss, validationAccuracy, learningRate, seconds);
        return new EpochMeasurement(record, trainSeconds, seconds - trainSeconds, train.Frames);
    }

    /// <summary>The recipe's loss: cross-entropy with label smoothing and (optionally) class weights, mean-reduced.</summary>
    public Tensor Loss(Tensor logits, Tensor labels) =>
        nn.functional.cross_entropy(logits, labels, classWeights, label_smoothing: Options.LabelSmoothing);

    /// <summary>One optimiser step on <paramref name="loss"/>: backward, clip the global gradient norm, AdamW.</summary>
    public void Step(Tensor loss)
    {
        Optimizer.zero_grad();
        loss.backward();
        ClipAndStep();
    }

    /// <summary>
    /// The divisor that makes the sum of a batch's shard losses (<see cref="ShardLoss"/>) its mean loss: the sum of the
    /// batch's class weights, as cross_entropy's mean reduction divides by it, or the clip count without weights.
    /// </summary>
    public double LossDivisor(IEnumerable<long> labels) =>
        classWeightValues is { } weights ? labels.Sum(label => (double)weights[label]) : labels.Count();

    /// <summary>
    /// One shard's part of the batch loss: the recipe's loss summed over the shard's clips (for cross-entropy with
    /// label smoothing and class weights the mean reduction is exactly that sum over the sum of the target classes'
    /// weights), divided by <paramref name="divisor"/> (the whole batch's <see cref="LossDivisor"/>).
    /// </summary>
    public Tensor ShardLoss(Tensor logits, Tensor labels, Scalar divisor)
    {
        using var sum = nn.functional.cross_entropy(logits, labels, classWeights, reduction: nn.Reduction.Sum,
            label_smoothing: Options.LabelSmoothing);
        return sum.div(divisor);
    }

    /// <summary>The gradient of every trainable parameter, in <see cref="StepWithGradients"/>'s order.</summary>
    public IList<Tensor> Gradients(Tensor loss) => autograd.grad([loss], parameters);

    /// <summary>
    /// One optimiser step on the sum of the shards' gradients (each from <see cref="Gradients"/>), added in shard order
    /// so the result does not depend on which shard finished first; then clipping and AdamW as in <see cref="Step"/>.
    /// </summary>
    public void StepWithGradients(IReadOnlyList<IList<Tensor>> shardGradients)
    {
        // Held, not implicit (see GruLayer.Constants): other threads of the host may be allocating.
        using var one = 1.0f.ToScalar();
        for (var p = 0; p < parameters.Length; p++)
        {
            var sum = shardGradients[0][p];
            for (var shard = 1; shard < shardGradients.Count; shard++) sum.add_(shardGradients[shard][p], one);
            parameters[p].grad = sum;
        }
        ClipAndStep();
    }

    private void ClipAndStep()
    {
        nn.utils.clip_grad_norm_(parameters, Options.GradClip);
        Optimizer.step();
    }

    public Tensor ToDevice(Tensor tensor) => Device.type == DeviceType.CPU ? tensor : tensor.to(Device);

    /// <summary>
    /// Restores a checkpoint's position: weights, then the schedule replayed epoch by epoch (it is chainable, so
    /// replaying reproduces the exact rates), then the optimiser state, which also carries the current rate.
    /// </summary>
    public void Restore(BinaryReader reader, int completedEpochs, double expectedLearningRate, string source)
    {
        Model.load(reader);
        for (var epoch = 1; epoch <= completedEpochs; epoch++) scheduler.step();
        Optimizer.load_state_dict(reader);
        CompletedEpochs = completedEpochs;
        if (BitConverter.DoubleToInt64Bits(LearningRate) != BitConverter.DoubleToInt64Bits(expectedLearningRate))
            throw new InvalidDataException(
                $"Checkpoint '{source}' says the learning rate after epoch {completedEpochs} is {expectedLearningRate}, but the schedule gives {LearningRate}.");
    }

    public void Save(BinaryWriter writer)
    {
        Model.save(writer);
        Optimizer.save_state_dict(writer);
    }

    public void Dispose()
    {
        (loop as IDisposable)?.Dispose();
        Normaliser.Dispose();
        classWeights?.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}

/// <summary>How one epoch's training and validation passes are executed.</summary>
internal interface IEpochLoop
{
    EpochTotals Train(TrainingSession session, int epoch, Random random, ITrainingObserver? observer, CancellationToken cancellationToken);

    (double Loss, double Accuracy) Validate(TrainingSession session);
}

/// <summary>
/// The seed's loop, kept as its baseline: random batches; per step, each clip's array becomes a tensor, is
/// normalised and augmented, the batch is packed, and loss and correct count are read back with item().
/// </summary>
internal sealed class ReferenceLoop : IEpochLoop
{
    public EpochTotals Train(TrainingSession session, int epoch, Random random, ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        var clips = session.Data.Train;
        var batches = Batching.Random(clips.Count, session.Options.BatchSize, random);
        double lossSum = 0;
        long correct = 0, frames = 0;
        var done = 0;
        for (var b = 0; b < batches.Length; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var batch = batches[b];
            var sequences = new Tensor[batch.Length];
            var labels = new long[batch.Length];
            for (var i = 0; i < batch.Length; i++)
            {
                var clip = clips[batch[i]];
                var features = session.Normaliser.Normalise(session.ToDevice(tensor(clip.Data, [clip.Frames, FeatureChecks.Bands])));
                session.Augment?.Draw(random, clip.Frames, FeatureChecks.Bands)?.ApplyTo(features);
                sequences[i] = features;
                labels[i] = clip.Label;
                frames += clip.Frames;
            }
            var target = session.ToDevice(tensor(labels));
            var packed = pack_sequence(sequences, enforce_sorted: false);
            var logits = session.Model.call(packed);
            var loss = session.Loss(logits, target);
            session.Step(loss);

            var batchLoss = loss.item<float>();
            correct += logits.argmax(1).eq(target).sum().item<long>();
            lossSum += batchLoss * (double)batch.Length;
            done += batch.Length;
            observer?.OnBatchCompleted(new BatchProgress(epoch, b + 1, batches.Length, done, clips.Count, batchLoss));
        }
        return new EpochTotals(lossSum / clips.Count, correct / (double)clips.Count, frames, batches.Length);
    }

    public (double Loss, double Accuracy) Validate(TrainingSession session)
    {
        var clips = session.Data.Validation;
        var batchSize = session.Options.BatchSize;
        double lossSum = 0;
        long correct = 0;
        using var noGrad = no_grad();
        for (var start = 0; start < clips.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(batchSize, clips.Count - start);
            var sequences = new Tensor[count];
            var labels = new long[count];
            for (var i = 0; i < count; i++)
            {
                var clip = clips[start + i];
                sequences[i] = session.Normaliser.Normalise(session.ToDevice(tensor(clip.Data, [clip.Frames, FeatureChecks.Bands])));
                labels[i] = clip.Label;
            }
            var target = session.ToDevice(tensor(labels));
            var logits = session.Model.call(pack_sequence(sequences, enforce_sorted: false));
            lossSum += session.Loss(logits, target).item<float>() * (double)count;
            correct += logits.argmax(1).eq(target).sum().item<long>();
        }
        return (lossSum / clips.Count, correct / (double)clips.Count);
    }
}

/// <summary>
/// The same recipe, computed faster: the model runs the <see cref="GruKernel.Fused"/> GRU (same function and
/// gradients, cheaper backward pass), features are resident in one normalised tensor per partition (a step takes
/// views, cloning only the clips it augments), batches are length-bucketed (fewer packed time steps per batch),
/// correct counts accumulate on the device and are read once per epoch, and validation runs in large
/// length-sorted batches with one read-back at the end. Threads are used as <see cref="TrainingThreads"/> plans:
/// concurrent GRU directions, and with more than one shard, data parallelism with per-shard dropout generators.
/// </summary>
internal sealed class FastLoop : IEpochLoop, IDisposable
{
    /// <summary>Batches per length-sorting pool: big enough that a batch's lengths are close, small enough to keep batches varied.</summary>
    public const int PoolBatches = 32;

    /// <summary>Clips per validation batch; evaluation keeps no activations for backward, so large batches are cheap.</summary>
    public const int ValidationBatchClips = 128;

    private readonly ResidentClips train;
    private readonly ResidentClips validation;
    private readonly int[][] validationBatches;
    private readonly Tensor[] validationTargets;
    private readonly int[] validationOrder;
    private readonly WorkerTeam? team;
    private readonly int shards;
    private readonly Generator[] dropoutGenerators;
    private readonly DropoutStream[][] directionDropoutStreams;
    private readonly Generator? singleShardGenerator;

    public FastLoop(TrainingSession session)
    {
        train = ResidentClips.Build(session.Data.Train, session.Normaliser, session.Device);
        validation = ResidentClips.Build(session.Data.Validation, session.Normaliser, session.Device);
        validationBatches = Batching.ByLength(validation.Frames, ValidationBatchClips);
        validationOrder = Enumerable.Range(0, validationBatches.Length)
            .OrderByDescending(b => validationBatches[b].Sum(clip => (long)validation.Frames[clip])).ThenBy(b => b).ToArray();
        validationTargets = validationBatches.Select(batch => session.ToDevice(tensor(batch.Select(i => validation.Labels[i]).ToArray()))).ToArray();
        var plan = session.ThreadPlan ?? throw new ArgumentException("The fast loop needs a thread plan.", nameof(session));
        team = plan.Threads > 1 ? new WorkerTeam(plan.Threads, TrainingThreads.IntraOpThreads) : null;
        shards = plan.Shards;
        // One generator per shard: shards draw dropout masks concurrently, and the default generator would hand out its
        // numbers in whatever order the threads happen to ask. A single shard keeps drawing from the default one.
        dropoutGenerators = shards > 1 ? Enumerable.Range(0, shards).Select(_ => new Generator(0, session.Device)).ToArray() : [];
        // A single shard draws its masks from a generator of its own, seeded each epoch exactly as LibTorch's default one
        // (Seeds.Torch), so it draws the same masks the default generator would (ModelDropout.Apply) while no other thread
        // of the process (a second training, a Predictor being built) can take numbers from between them.
        singleShardGenerator = shards == 1 ? new Generator(0, session.Device) : null;
        // With concurrent directions each direction thread draws its half of the inter-layer dropout mask, from its own
        // stream (per shard), instead of the caller drawing the whole mask alone between the layers.
        directionDropoutStreams = plan.ConcurrentDirections
            ? Enumerable.Range(0, shards).Select(_ => new[] { new DropoutStream(), new DropoutStream() }).ToArray()
            : [];
    }

    public EpochTotals Train(TrainingSession session, int epoch, Random random, ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        var batches = Batching.LengthBucketed(train.Frames, session.Options.BatchSize, PoolBatches, random);
        for (var shard = 0; shard < dropoutGenerators.Length; shard++)
            dropoutGenerators[shard].manual_seed(Seeds.Dropout(session.Options.Seed, epoch, shard));
        singleShardGenerator?.manual_seed(Seeds.Torch(session.Options.Seed, epoch));
        for (var shard = 0; shard < directionDropoutStreams.Length; shard++)
        {
            for (var direction = 0; direction < 2; direction++)
                directionDropoutStreams[shard][direction].Reset(Seeds.DirectionDropout(session.Options.Seed, epoch, shard, direction));
        }
        using var correct = zeros(1, dtype: ScalarType.Int64, device: session.Device);
        long shardedCorrect = 0;
        double lossSum = 0;
        long frames = 0;
        var done = 0;
        for (var b = 0; b < batches.Length; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var batch = batches[b];
            var sequences = new Tensor[batch.Length];
            var labels = new long[batch.Length];
            for (var i = 0; i < batch.Length; i++)
            {
                var clip = batch[i];
                var masks = session.Augment?.Draw(random, train.Frames[clip], FeatureChecks.Bands);
                var view = train.View(clip);
                if (masks is not null)
                {
                    // The resident tensor is shared by every epoch: augment a copy, never the view.
                    view = view.clone();
                    masks.ApplyTo(view);
                }
                sequences[i] = view;
                labels[i] = train.Labels[clip];
                frames += train.Frames[clip];
            }
            float batchLoss;
            if (shards == 1)
            {
                var target = session.ToDevice(tensor(labels));
                var logits = session.Model.Forward(pack_sequence(sequences, enforce_sorted: false), singleShardGenerator,
                    directionDropoutStreams.Length > 0 ? directionDropoutStreams[0] : null);
                var loss = session.Loss(logits, target);
                session.Step(loss);
                correct.add_(logits.argmax(1).eq(target).sum());
                batchLoss = loss.item<float>();
            }
            else
            {
                var (shardLoss, shardCorrect) = ShardedStep(session, team!, batch.Select(clip => train.Frames[clip]).ToArray(), sequences, labels);
                batchLoss = shardLoss;
                shardedCorrect += shardCorrect;
            }
            lossSum += batchLoss * (double)batch.Length;
            done += batch.Length;
            observer?.OnBatchCompleted(new BatchProgress(epoch, b + 1, batches.Length, done, train.Count, batchLoss));
        }
        var totalCorrect = correct.item<long>() + shardedCorrect;
        return new EpochTotals(lossSum / train.Count, totalCorrect / (double)train.Count, frames, batches.Length);
    }

    /// <summary>
    /// One data-parallel step: the batch split into shards (<see cref="Batching.Shards"/>), each shard's forward pass,
    /// loss share (<see cref="TrainingSession.ShardLoss"/>) and gradients on its own thread with its own dropout
    /// generator, then the gradients summed in shard order and one optimiser step. Returns the batch's mean loss (the
    /// sum of the shares) and its correct count.
    /// </summary>
    private (float Loss, long Correct) ShardedStep(TrainingSession session, WorkerTeam workers, int[] frames, Tensor[] sequences, long[] labels)
    {
        var members = Batching.Shards(frames, shards);
        var divisor = session.LossDivisor(labels);
        var gradients = new IList<Tensor>[members.Length];
        var losses = new float[members.Length];
        var corrects = new long[members.Length];
        try
        {
            workers.Run(members.Length, shard =>
            {
                // Scalars held for the whole shard: the shards allocate concurrently (see GruLayer.Constants).
                using var divisorScalar = ((float)divisor).ToScalar();
                using var scope = NewDisposeScope();
                var clips = members[shard];
                var target = session.ToDevice(tensor(clips.Select(i => labels[i]).ToArray()));
                var logits = session.Model.Forward(pack_sequence(clips.Select(i => sequences[i]), enforce_sorted: false), dropoutGenerators[shard],
                    directionDropoutStreams.Length > 0 ? directionDropoutStreams[shard] : null);
                var loss = session.ShardLoss(logits, target, divisorScalar);
                var shardGradients = session.Gradients(loss);
                foreach (var gradient in shardGradients) gradient.MoveToOuterDisposeScope();
                gradients[shard] = shardGradients;
                losses[shard] = loss.item<float>();
                corrects[shard] = logits.argmax(1).eq(target).sum().item<long>();
            });
            session.StepWithGradients(gradients);
        }
        finally
        {
            foreach (var shardGradients in gradients)
            {
                if (shardGradients is null) continue;
                foreach (var gradient in shardGradients) gradient.Dispose();
            }
        }
        var batchLoss = 0f;
        foreach (var loss in losses) batchLoss += loss;
        return (batchLoss, corrects.Sum());
    }

    public (double Loss, double Accuracy) Validate(TrainingSession session)
    {
        // Batches are fixed and each is computed alone with one intra-op thread, so their results do not depend on the
        // thread count; the sums run in batch order: ((0 + loss₀·n₀) + loss₁·n₁) + … in float64, as a tensor sum would.
        var losses = new double[validationBatches.Length];
        var corrects = new long[validationBatches.Length];
        void ValidateBatch(int b)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var batch = validationBatches[b];
            var logits = session.Model.call(pack_sequence(batch.Select(validation.View), enforce_sorted: false));
            var target = validationTargets[b];
            losses[b] = session.Loss(logits, target).item<float>() * (double)batch.Length;
            corrects[b] = logits.argmax(1).eq(target).sum().item<long>();
        }
        if (team is null)
        {
            for (var b = 0; b < validationBatches.Length; b++) ValidateBatch(b);
        }
        else
        {
            // Longest batch first, each member taking the next one when it is free: batches differ several-fold in frames,
            // and a fixed stripe (member m takes m, m + n, …) left one thread idle for the last batch or two.
            var next = -1;
            team.Run(Math.Min(team.Size, validationBatches.Length), _ =>
            {
                for (var taken = Interlocked.Increment(ref next); taken < validationOrder.Length; taken = Interlocked.Increment(ref next))
                    ValidateBatch(validationOrder[taken]);
            });
        }
        double lossSum = 0;
        foreach (var loss in losses) lossSum += loss;
        return (lossSum / validation.Count, corrects.Sum() / (double)validation.Count);
    }

    public void Dispose()
    {
        team?.Dispose();
        foreach (var generator in dropoutGenerators) generator.Dispose();
        singleShardGenerator?.Dispose();
        foreach (var target in validationTargets) target.Dispose();
        train.Dispose();
        validation.Dispose();
    }
}
