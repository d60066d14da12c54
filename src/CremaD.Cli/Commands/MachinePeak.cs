using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace CremaD.Cli.Commands;

/// <summary>The machine's FP32 arithmetic peak that the training benchmark's fraction-of-peak figure divides by.</summary>
/// <param name="Gflops">10⁹ FLOP/s for all of the machine's processors together.</param>
/// <param name="Assumption">How <paramref name="Gflops"/> was obtained, printed next to the figure.</param>
public sealed record MachinePeak(double Gflops, string Assumption)
{
    /// <summary>
    /// processors × FLOP per cycle × clock. FLOP per cycle per core: 32 with FMA (two 256-bit FMA pipes × 8 floats × 2
    /// FLOP: AVX2 cores, and AVX-512 on AMD Zen 4, which executes 512-bit operations as two 256-bit halves; Intel cores
    /// with two 512-bit FMA units reach 64, pass --peak-gflops there), 16 without. Clock: the nominal "cpu MHz" of
    /// /proc/cpuinfo (boost clocks can be higher), 2.5 GHz where it cannot be read.
    /// </summary>
    public static MachinePeak Estimate()
    {
        var processors = Environment.ProcessorCount;
        var flopsPerCycle = Fma.IsSupported ? 32 : 16;
        var (ghz, clockSource) = NominalClock() is { } read ? (read, "nominal clock from /proc/cpuinfo") : (2.5, "clock unknown, 2.5 GHz assumed");
        return new MachinePeak(processors * flopsPerCycle * ghz,
            string.Create(CultureInfo.InvariantCulture,
                $"{processors} processors × {flopsPerCycle} FP32 FLOP/cycle ({(Fma.IsSupported ? "two 256-bit FMA pipes" : "no FMA")}) × {ghz:F2} GHz, {clockSource}"));
    }

    private static double? NominalClock()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("cpu MHz", StringComparison.Ordinal)) continue;
                var value = line[(line.IndexOf(':') + 1)..].Trim();
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) && mhz > 0 ? mhz / 1000 : null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }
}
