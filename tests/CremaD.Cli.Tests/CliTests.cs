using System.Globalization;
using System.Text.Json;

namespace CremaD.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static float[] ReadF32(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"max abs difference {worst} dB > {tolerance} dB");
    }

    [Fact]
    public async Task Logmel_writes_the_fixture_features()
    {
        var output = _dir["out/clip.f32"];
        var (code, stdout, stderr) = await Cremad.RunAsync("logmel", Repo.Fixture("logmel", "clip16k_mono_s16.wav"), "--out", output);

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("121 frames x 80 mel bands", stdout);
        AssertClose(ReadF32(Repo.Fixture("logmel", "clip16k_mono_s16.logmel.f32")), ReadF32(output), 0.005);
    }

    [Fact]
    public async Task Logmel_csv_has_one_line_per_frame()
    {
        var output = _dir["clip.csv"];
        var (code, _, _) = await Cremad.RunAsync("logmel", Repo.Fixture("logmel", "clip16k_mono_s32.wav"), "-o", output, "--format", "csv");

        Assert.Equal(0, code);
        var rows = File.ReadAllLines(output);
        Assert.Equal(127, rows.Length);
        Assert.All(rows, r => Assert.Equal(80, r.Split(',').Length));
        var values = rows.SelectMany(r => r.Split(',')).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        AssertClose(ReadF32(Repo.Fixture("logmel", "clip16k_mono_s32.logmel.f32")), values, 0.005);
    }

    [Fact]
    public async Task Logmel_warns_about_a_truncated_clip()
    {
        var (code, _, stderr) = await Cremad.RunAsync("logmel", Repo.Fixture("bad-audio", "truncated.wav"), "--out", _dir["t.f32"]);
        Assert.Equal(0, code);
        Assert.StartsWith("warning: truncated.wav: ", stderr);
    }

    [Fact]
    public async Task Logmel_on_bad_audio_fails_with_one_line_naming_the_file()
    {
        var bad = Repo.Fixture("bad-audio", "garbage.wav");
        var (code, stdout, stderr) = await Cremad.RunAsync("logmel", bad, "--out", _dir["g.f32"]);

        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("garbage.wav", line);
        Assert.False(File.Exists(_dir["g.f32"]));
    }

    [Fact]
    public async Task Features_on_the_demo_dataset_builds_a_complete_store_then_reuses_it()
    {
        var store = _dir["demo-features"];
        var (code, stdout, stderr) = await Cremad.RunAsync("features", "--data-root", Repo.Demo, "--output-dir", store, "--num-workers", "2");

        Assert.True(code == 0, stderr);
        var labelled = File.ReadAllLines(Path.Combine(Repo.Demo, "labels.csv")).Skip(1).Where(l => l.Length > 0).ToList();
        Assert.Contains($"features: {labelled.Count} extracted, 0 reused, 0 rejected", stdout);

        using (var metadata = JsonDocument.Parse(File.ReadAllText(Path.Combine(store, "metadata.json"))))
        {
            var perPartition = metadata.RootElement.GetProperty("clips_per_partition");
            foreach (var partition in new[] { "train", "validation", "test" })
            {
                Assert.Equal(labelled.Count(l => l.EndsWith("," + partition, StringComparison.Ordinal)), perPartition.GetProperty(partition).GetInt32());
            }
            Assert.Equal(labelled.Count, metadata.RootElement.GetProperty("clips").GetInt32());
        }
        using (var normalisation = JsonDocument.Parse(File.ReadAllText(Path.Combine(store, "normalisation.json"))))
        {
            Assert.Equal(80, normalisation.RootElement.GetProperty("mean").GetArrayLength());
            Assert.Equal(80, normalisation.RootElement.GetProperty("std").GetArrayLength());
        }
        using (var rejected = JsonDocument.Parse(File.ReadAllText(Path.Combine(store, "rejected.json"))))
        {
            Assert.Equal(0, rejected.RootElement.GetProperty("count").GetInt32());
        }
        using (var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(store, "index.json"))))
        {
            var clips = index.RootElement.GetProperty("clips").EnumerateArray().ToList();
            Assert.Equal(labelled.Count, clips.Count);
            Assert.All(clips, c => Assert.True(File.Exists(Path.Combine(store, c.GetProperty("feature_file").GetString()!))));
        }

        var again = await Cremad.RunAsync("features", "--data-root", Repo.Demo, "--output-dir", store);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains($"up to date, nothing to do: {labelled.Count} clips reused", again.Output);
    }

    [Fact]
    public async Task Missing_data_root_fails_with_the_path_and_no_stack_trace()
    {
        var missing = _dir["no-such-dataset"];
        var (code, stdout, stderr) = await Cremad.RunAsync("features", "--data-root", missing, "--output-dir", _dir["out"]);

        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal($"error: {missing}: the data root does not exist", stderr.Trim());
        Assert.False(Directory.Exists(_dir["out"]));
    }

    [Fact]
    public async Task Malformed_labels_fail_with_file_and_line_and_verbose_adds_the_stack_trace()
    {
        Directory.CreateDirectory(_dir["data"]);
        File.WriteAllText(_dir["data/labels.csv"], "path,class,partition\nmissing.wav,0,train\n");

        var (code, _, stderr) = await Cremad.RunAsync("features", "--data-root", _dir["data"], "--output-dir", _dir["out"]);
        Assert.Equal(1, code);
        Assert.Equal($"error: {_dir["data/labels.csv"]}:2: file not found: missing.wav", stderr.Trim());

        var verbose = await Cremad.RunAsync("features", "--data-root", _dir["data"], "--output-dir", _dir["out"], "--verbose");
        Assert.Equal(1, verbose.ExitCode);
        Assert.Contains("   at ", verbose.Error);
    }

    [Fact]
    public async Task Bad_arguments_are_usage_errors()
    {
        var (code, _, stderr) = await Cremad.RunAsync("features", "--data-root", Repo.Demo, "--output-dir", _dir["o"], "--num-workers", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--num-workers must be at least 1", stderr);

        var missingOption = await Cremad.RunAsync("features", "--output-dir", _dir["o"]);
        Assert.NotEqual(0, missingOption.ExitCode);
        Assert.Contains("--data-root", missingOption.Error);
    }

    [Fact]
    public async Task Dataset_split_turns_an_official_layout_into_course_labels()
    {
        var wav = Repo.Fixture("logmel", "clip16k_mono_s16.wav");
        var actors = new[] { ("1001", "Male"), ("1002", "Female"), ("1003", "Male"), ("1004", "Female"), ("1005", "Male"), ("1006", "Female") };
        Directory.CreateDirectory(_dir["data/AudioWAV"]);
        foreach (var (actor, _) in actors)
        {
            foreach (var emotion in new[] { "ANG", "SAD" }) File.Copy(wav, _dir[$"data/AudioWAV/{actor}_IEO_{emotion}_HI.wav"]);
        }
        File.WriteAllLines(_dir["data/VideoDemographics.csv"],
            ["ActorID,Age,Sex,Race,Ethnicity", .. actors.Select(a => $"{a.Item1},30,{a.Item2},Asian,Not Hispanic")]);

        var labels = _dir["data/labels.csv"];
        var (code, stdout, stderr) = await Cremad.RunAsync("dataset", "split", "--data-root", _dir["data"], "--out", labels, "--seed", "7");

        Assert.True(code == 0, stderr);
        Assert.Contains($"wrote {labels} (12 clips)", stdout);
        Assert.Contains("M/F", stdout);
        var rows = File.ReadAllLines(labels);
        Assert.Equal("path,class,partition", rows[0]);
        Assert.Equal(13, rows.Length);
        Assert.Contains("AudioWAV/1001_IEO_ANG_HI.wav,0,", rows[1]);

        // The data root now reads as a course-layout dataset.
        var info = await Cremad.RunAsync("dataset", "info", "--data-root", _dir["data"]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("course layout, 12 clips", info.Output);
    }

    [Fact]
    public async Task Benchmark_features_reports_runs_and_writes_json()
    {
        Directory.CreateDirectory(_dir["data/train"]);
        var rows = new List<string> { "path,class,partition" };
        foreach (var (clip, i) in new[] { "clip16k_mono_s16.wav", "clip16k_mono_s16_b.wav", "clip16k_mono_s32.wav" }.Select((c, i) => (c, i)))
        {
            File.Copy(Repo.Fixture("logmel", clip), _dir[$"data/train/{i}.wav"]);
            rows.Add($"train/{i}.wav,{i},train");
        }
        File.WriteAllLines(_dir["data/labels.csv"], rows);
        var json = _dir["bench/result.json"];

        var (code, stdout, stderr) = await Cremad.RunAsync("benchmark", "features", "--data-root", _dir["data"], "--runs", "2", "--num-workers", "1", "--json", json);

        Assert.True(code == 0, stderr);
        Assert.Contains("run 1: 3 clips (0 rejected)", stdout);
        Assert.Contains("run 2: 3 clips (0 rejected)", stdout);
        Assert.Contains("median: ", stdout);
        using var result = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(2, result.RootElement.GetProperty("runs").GetArrayLength());
        Assert.Equal(3, result.RootElement.GetProperty("clips").GetInt32());
        Assert.True(result.RootElement.GetProperty("median_clips_per_second").GetDouble() > 0);
        Assert.True(result.RootElement.GetProperty("peak_working_set_bytes").GetInt64() > 0);
    }

    [Fact]
    public async Task Benchmark_train_measures_each_thread_count_and_reports_speedup_and_gflops()
    {
        var store = _dir["features"];
        var extract = await Cremad.RunAsync("features", "--data-root", Repo.Demo, "--output-dir", store, "--num-workers", "1");
        Assert.True(extract.ExitCode == 0, extract.Error);
        var json = _dir["bench/train.json"];

        var (code, stdout, stderr) = await Cremad.RunAsync("benchmark", "train", "--features-dir", store, "--loops", "fast",
            "--threads", "1,2", "--measure-epochs", "1", "--hidden-size", "16", "--batch-size", "16", "--peak-gflops", "100", "--json", json);

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("measuring the fast, 1 threads in a child process", stdout);
        Assert.Contains("measuring the fast, 2 threads in a child process", stdout);
        Assert.Contains("fast: 2 threads vs 1: epoch", stdout);
        Assert.Contains("FLOP per train frame", stdout);
        Assert.Contains("machine peak assumed: 100 GFLOP/s (given with --peak-gflops)", stdout);
        using var result = JsonDocument.Parse(File.ReadAllText(json));
        var loops = result.RootElement.GetProperty("loops").EnumerateArray().ToArray();
        Assert.Equal([1, 2], loops.Select(l => l.GetProperty("threads").GetInt32()));
        Assert.All(loops, l =>
        {
            var gflops = l.GetProperty("median_train_gflops").GetDouble();
            Assert.True(gflops > 0);
            Assert.Equal(gflops / 100, l.GetProperty("fraction_of_peak").GetDouble(), 9);
            // 3 × 2 directions × 2·3H·(I + H) for H = 16, two layers (I = 80, then 32)
            Assert.Equal(3 * 2 * (2 * 48 * (80 + 16) + 2 * 48 * (32 + 16)), l.GetProperty("flops_per_train_frame").GetDouble());
        });
        var speedup = result.RootElement.GetProperty("thread_speedups").EnumerateArray().Single();
        Assert.Equal(1, speedup.GetProperty("base_threads").GetInt32());
        Assert.Equal(2, speedup.GetProperty("threads").GetInt32());
        Assert.True(speedup.GetProperty("epoch_speedup").GetDouble() > 0);
        Assert.Contains("H·(I + H)", result.RootElement.GetProperty("flop_formula").GetString());
    }
}
