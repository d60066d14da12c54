using System.Text;

namespace CremaD.Datasets.Tests;

/// <summary>Repository fixtures and throw-away folders for tests.</summary>
internal static class TestFiles
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string LogmelFixtures => Path.Combine(RepoRoot, "tests", "fixtures", "logmel");

    public static string BadAudioFixtures => Path.Combine(RepoRoot, "tests", "fixtures", "bad-audio");

    /// <summary>The 16 kHz and resampled parity clips: all decode cleanly.</summary>
    public static IReadOnlyList<string> GoodClips { get; } =
    [
        "clip16k_mono_s16.wav", "clip16k_mono_s16_b.wav", "clip16k_mono_s32.wav", "clip22k_stereo_s16.wav",
        "clip44k_mono_f32.wav", "clip48k_mono_s24.wav", "clip8k_mono_u8.wav",
    ];

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CremaD.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"CremaD.sln not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary folder deleted at the end of a test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cremad-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Copies a fixture to <paramref name="relative"/> (folders created).</summary>
    public string Copy(string fixture, string relative)
    {
        var target = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        File.Copy(fixture, target, overwrite: true);
        return target;
    }

    /// <summary>Writes text exactly as given (no BOM unless the text has one).</summary>
    public string Write(string relative, string text)
    {
        var target = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        File.WriteAllText(target, text, new UTF8Encoding(false));
        return target;
    }

    /// <summary>Creates an empty file (the reader checks existence only, never content).</summary>
    public string Touch(string relative) => Write(relative, "");

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
