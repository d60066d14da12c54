namespace CremaD.Audio.Tests;

/// <summary>
/// Steps 4–9 of the recipe written the slow, obvious way in double precision (direct DFT, dense mel
/// matrix from the torchaudio formula), as an independent check on the fast float32 extractor.
/// </summary>
internal static class LogMelReference
{
    private static readonly Lazy<(double[] Cos, double[] Sin)> DftTable = new(() =>
    {
        var cos = new double[1024];
        var sin = new double[1024];
        for (var n = 0; n < 1024; n++)
        {
            cos[n] = Math.Cos(2 * Math.PI * n / 1024);
            sin[n] = Math.Sin(2 * Math.PI * n / 1024);
        }
        return (cos, sin);
    });

    public static double[] Compute(ReadOnlySpan<float> waveform, out int frames)
    {
        var n = waveform.Length;
        frames = n < 1024 ? 0 : 1 + (n - 1024) / 256;
        var mean = 0.0;
        foreach (var v in waveform) mean += v;
        mean /= n;
        var variance = 0.0;
        foreach (var v in waveform) variance += (v - mean) * (v - mean);
        var std = Math.Max(Math.Sqrt(variance / (n - 1)), 1e-9);
        var x = new double[n];
        for (var i = 0; i < n; i++) x[i] = waveform[i] / std;
        var y = new double[n];
        y[0] = x[0];
        for (var i = 1; i < n; i++) y[i] = x[i] - 0.97 * x[i - 1];

        var (cos, sin) = DftTable.Value;
        var window = Enumerable.Range(0, 1024).Select(i => 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / 1024)).ToArray();
        var fb = MelFilterbank.Recipe;
        var output = new double[frames * 80];
        var frame = new double[1024];
        var power = new double[513];
        for (var f = 0; f < frames; f++)
        {
            for (var i = 0; i < 1024; i++) frame[i] = y[f * 256 + i] * window[i];
            for (var k = 0; k <= 512; k++)
            {
                double re = 0, im = 0;
                for (var i = 0; i < 1024; i++)
                {
                    var phase = (k * i) & 1023;
                    re += frame[i] * cos[phase];
                    im -= frame[i] * sin[phase];
                }
                power[k] = re * re + im * im;
            }
            for (var m = 0; m < 80; m++)
            {
                var weights = fb.Weights(m);
                var sum = 0.0;
                for (var i = 0; i < weights.Length; i++) sum += power[fb.FirstBin(m) + i] * weights[i];
                output[f * 80 + m] = 10 * Math.Log10(Math.Max(sum, 1e-10));
            }
        }
        return output;
    }
}
