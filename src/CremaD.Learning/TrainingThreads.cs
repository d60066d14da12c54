using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>
/// How the fast loop spends a budget of <see cref="Threads"/> threads on one optimiser step. A bidirectional GRU's
/// recurrence is sequential in time and each time step's matrices are small, so LibTorch's intra-op threads speed it
/// up little, and on a busy machine they slow it down (an OpenMP team waits at every operation for its slowest,
/// descheduled thread). Every thread here therefore runs LibTorch with ONE intra-op thread, and the parallelism is
/// explicit:
/// <list type="bullet">
/// <item>direction threads (<see cref="ConcurrentDirections"/>): each layer's forward and backward directions are
/// independent and equally costly from the layer's input on, so each runs on its own thread: input projection,
/// recurrence, and in the backward pass its weight gradients and its share of the input gradient;</item>
/// <item>data parallelism (<see cref="Shards"/> &gt; 1, from four threads on): the batch is split into shards of
/// similar length (<see cref="Batching.Shards"/>), each run forward and backward on its own pair of direction threads
/// over the shared weights, with its own dropout generator, and the gradients are summed in shard order before the
/// optimiser step.</item>
/// </list>
/// Direction threads come first because they halve one step's work without repeating any of it: two half-batch shards
/// each still walk every time step with its ~50 small LibTorch calls (measured on one thread, two half batches cost
/// 14 % more than the whole batch). A given seed and thread count give the same history and weights on every run;
/// one thread computes exactly what the loop computed before it had threads.
/// </summary>
internal sealed record TrainingThreads(int Threads, int Shards, bool ConcurrentDirections)
{
    /// <summary>LibTorch intra-op threads of every thread of the fast loop's training pass.</summary>
    public const int IntraOpThreads = 1;

    /// <summary>The plan for <paramref name="threads"/> threads (≥ 1): one shard per pair of threads; an odd one is left idle.</summary>
    public static TrainingThreads For(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        return new TrainingThreads(threads, Math.Max(1, threads / 2), threads >= 2);
    }

    /// <summary>The default budget: every processor this process may use (Environment.ProcessorCount honours container CPU limits).</summary>
    public static int DefaultThreads => Environment.ProcessorCount;
}

/// <summary>
/// Long-lived threads that run the parts of a step (shards, validation batches), part 0 on the calling thread, each
/// with a fixed LibTorch intra-op thread count. Threads, not thread-pool tasks: LibTorch's intra-op setting and
/// TorchSharp's dispose scopes are per thread, and a step must not wait for the pool to grow.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    private readonly Thread[] threads;
    private readonly SemaphoreSlim[] starts;
    private readonly CountdownEvent done = new(0);
    private readonly Exception?[] errors;
    private readonly int intraOpThreads;
    private Action<int>? work;
    private volatile bool stopping;

    /// <param name="size">Members, the calling thread included.</param>
    /// <param name="intraOpThreads">LibTorch intra-op threads of every member's thread.</param>
    public WorkerTeam(int size, int intraOpThreads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var shards = size;
        this.intraOpThreads = intraOpThreads;
        errors = new Exception?[shards];
        starts = new SemaphoreSlim[shards];
        threads = new Thread[shards];
        for (var shard = 1; shard < shards; shard++)
        {
            var index = shard;
            starts[shard] = new SemaphoreSlim(0);
            threads[shard] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"cremad-worker-{shard}" };
            threads[shard].Start();
        }
    }

    public int Size => errors.Length;

    /// <summary>
    /// Runs <paramref name="shardWork"/>(0) on the calling thread and (1 … <paramref name="shards"/> − 1) on the
    /// other members, returning when all have finished; an exception of the lowest failing member is rethrown.
    /// </summary>
    public void Run(int shards, Action<int> shardWork)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shards, Size);
        ObjectDisposedException.ThrowIf(stopping, this);
        Array.Clear(errors);
        work = shardWork;
        done.Reset(shards - 1);
        for (var shard = 1; shard < shards; shard++) starts[shard].Release();
        try
        {
            shardWork(0);
        }
        catch (Exception e)
        {
            errors[0] = e;
        }
        done.Wait();
        work = null;
        if (errors.FirstOrDefault(e => e is not null) is { } error)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
    }

    private void Loop(int shard)
    {
        set_num_threads(intraOpThreads);
        while (true)
        {
            starts[shard].Wait();
            if (stopping) return;
            try
            {
                work!(shard);
            }
            catch (Exception e)
            {
                errors[shard] = e;
            }
            finally
            {
                done.Signal();
            }
        }
    }

    public void Dispose()
    {
        if (stopping) return;
        stopping = true;
        for (var shard = 1; shard < threads.Length; shard++) starts[shard].Release();
        for (var shard = 1; shard < threads.Length; shard++)
        {
            threads[shard].Join();
            starts[shard].Dispose();
        }
        done.Dispose();
    }
}
