using System.Text.Json;

namespace CremaD.Audio.Tests;

/// <summary>Locates tests/fixtures from the test binaries and reads the log-mel parity manifest.</summary>
internal static class Fixtures
{
    public static string Root { get; } = FindRoot();

    public static string LogMelDirectory => Path.Combine(Root, "tests", "fixtures", "logmel");
    public static string BadAudioDirectory => Path.Combine(Root, "tests", "fixtures", "bad-audio");

    public static string LogMel(string name) => Path.Combine(LogMelDirectory, name);
    public static string BadAudio(string name) => Path.Combine(BadAudioDirectory, name);

    public sealed record ParityEntry(string Wav, string Features, int Frames, int SourceSampleRate, int Channels, int Bits, string Encoding);

    public static IReadOnlyList<ParityEntry> ParityManifest()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(LogMel("manifest.json")));
        return manifest.RootElement.GetProperty("files").EnumerateObject()
            .Select(file => new ParityEntry(
                file.Name,
                file.Value.GetProperty("features").GetString()!,
                file.Value.GetProperty("frames").GetInt32(),
                file.Value.GetProperty("source_sample_rate").GetInt32(),
                file.Value.GetProperty("channels").GetInt32(),
                file.Value.GetProperty("bits").GetInt32(),
                file.Value.GetProperty("encoding").GetString()!))
            .ToList();
    }

    /// <summary>A little-endian float32 file as an array.</summary>
    public static float[] ReadFloat32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / 4];
        for (var i = 0; i < values.Length; i++)
            values[i] = BitConverter.ToSingle(bytes, 4 * i);
        return values;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CremaD.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"CremaD.sln not found above {AppContext.BaseDirectory}");
    }
}
