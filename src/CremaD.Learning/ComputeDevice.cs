using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>Maps <see cref="DeviceChoice"/> to a LibTorch device at run time.</summary>
public static class ComputeDevice
{
    /// <summary>
    /// <see cref="DeviceChoice.Auto"/> is CUDA when available, else CPU. Asking for CUDA without it is an error
    /// rather than a silent CPU run: the CPU TorchSharp package (the default build) never has CUDA; build with
    /// <c>-p:TorchBackend=cuda</c> for the CUDA one.
    /// </summary>
    public static Device Resolve(DeviceChoice choice) => choice switch
    {
        DeviceChoice.Cpu => CPU,
        DeviceChoice.Cuda when cuda.is_available() => CUDA,
        DeviceChoice.Cuda => throw new InvalidOperationException(
            "CUDA was requested but LibTorch reports no usable CUDA device. This build uses the TorchSharp package selected by " +
            "-p:TorchBackend (default cpu); rebuild with -p:TorchBackend=cuda on a machine with an NVIDIA driver, or use device auto/cpu."),
        DeviceChoice.Auto => cuda.is_available() ? CUDA : CPU,
        _ => throw new ArgumentOutOfRangeException(nameof(choice), choice, "Unknown device."),
    };

    /// <summary>
    /// Loads LibTorch and runs one tiny operation, so that a service's first training or evaluation does not pay for
    /// loading the native library. Safe to call from any thread, more than once.
    /// </summary>
    public static void WarmUp()
    {
        using var scope = NewDisposeScope();
        _ = (ones(8) * 2).sum().item<float>();
    }

    /// <summary>
    /// Sets LibTorch's intra-op thread count for the calling thread (LibTorch's setting is per thread; threads started
    /// later begin with the last value set) and returns the count in effect. Null: one per processor this process may
    /// use (Environment.ProcessorCount, which honours container CPU limits), not LibTorch's own default, which can be
    /// lower.
    /// </summary>
    public static int ApplyThreads(int? threads)
    {
        var count = threads ?? Environment.ProcessorCount;
        if (get_num_threads() != count) set_num_threads(count);
        return get_num_threads();
    }
}
