using System.Text.Json;
using CremaD.Audio;

namespace CremaD.Datasets.Tests;

public sealed class FeatureStageTests : IDisposable
{
    private const int Bands = FeatureRecipe.MelBands;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string DataRoot => _dir["data"];

    private string Store => _dir["store"];

    /// <summary>Bad-audio fixtures that must be rejected, and the ones that decode (with a warning or cleanly).</summary>
    private static readonly string[] Rejected = ["empty.wav", "garbage.wav", "mp3_named_wav.wav", "header_only.wav", "tiny.wav", "adpcm.wav", "nan_float.wav"];

    private static readonly string[] DecodedAwkward = ["truncated.wav", "silence.wav", "odd_chunks_valid.wav", "streamed_size_valid.wav"];

    /// <summary>
    /// 7 good clips spread over the partitions, 4 awkward-but-valid clips and 7 broken ones in train,
    /// named like CREMA-D clips so actors are parsed.
    /// </summary>
    private Dataset MakeDataset()
    {
        var rows = new List<string> { "path,class,partition" };
        var partitions = new[] { "train", "train", "train", "validation", "validation", "test", "test" };
        for (var i = 0; i < TestFiles.GoodClips.Count; i++)
        {
            var relative = $"{partitions[i]}/10{i:00}_DFA_{Emotions.Codes[i % 6]}_XX.wav";
            _dir.Copy(Path.Combine(TestFiles.LogmelFixtures, TestFiles.GoodClips[i]), Path.Combine("data", relative));
            rows.Add($"{relative},{i % 6},{partitions[i]}");
        }
        foreach (var name in DecodedAwkward.Concat(Rejected))
        {
            _dir.Copy(Path.Combine(TestFiles.BadAudioFixtures, name), Path.Combine("data", "train", name));
            rows.Add($"train/{name},4,train");
        }
        _dir.Write("data/labels.csv", string.Join("\n", rows) + "\n");
        return DatasetReader.Open(DataRoot);
    }

    private static Task<FeatureStageResult> Run(Dataset dataset, string store, bool force = false) =>
        FeatureStage.RunAsync(dataset, store, new FeatureStageOptions { NumWorkers = 2, Force = force });

    private static float[] Reference(string wav) => new ClipFeatureExtractor().FromFile(wav) is var f ? f.Data[..(f.Frames * Bands)] : [];

    /// <summary>A clip's matrix read straight from its part file, as documented: little-endian float32 at the entry's offset.</summary>
    private static float[] StoredFeatures(string store, FeatureStoreEntry entry)
    {
        var bytes = File.ReadAllBytes(Path.Combine(store, entry.FeatureFile));
        var values = new float[entry.Frames * Bands];
        for (var i = 0; i < values.Length; i++) values[i] = BitConverter.ToSingle(bytes, checked((int)entry.Offset + 4 * i)); // little-endian host
        return values;
    }

    private static long FeatureBytes(string store) =>
        Directory.GetFiles(Path.Combine(store, FeatureStoreFiles.FeaturesFolder)).Sum(f => new FileInfo(f).Length);

    private static long LiveBytes(FeatureStore store) => store.Clips.Sum(c => FeatureStoreFiles.ByteLength(c.Frames));

    /// <summary>Mean and unbiased std of every train frame, straight from the extractor, in float64.</summary>
    private static (double[] Mean, double[] Std, long Frames) DirectNormalisation(Dataset dataset)
    {
        var train = new List<float[]>();
        foreach (var clip in dataset.In(Partition.Train))
        {
            try
            {
                train.Add(Reference(dataset.FullPath(clip)));
            }
            catch (AudioFormatException)
            {
            }
        }
        long frames = train.Sum(t => t.Length / Bands);
        var mean = new double[Bands];
        foreach (var clip in train) for (var i = 0; i < clip.Length; i++) mean[i % Bands] += clip[i];
        for (var b = 0; b < Bands; b++) mean[b] /= frames;
        var variance = new double[Bands];
        foreach (var clip in train) for (var i = 0; i < clip.Length; i++) variance[i % Bands] += Math.Pow(clip[i] - mean[i % Bands], 2);
        return (mean, variance.Select(v => Math.Sqrt(v / (frames - 1))).ToArray(), frames);
    }

    private static void AssertNormalisation(Dataset dataset, FeatureStore store)
    {
        var (mean, std, frames) = DirectNormalisation(dataset);
        var stored = store.Normalisation;
        Assert.Equal(frames, stored.Frames);
        for (var b = 0; b < Bands; b++)
        {
            Assert.Equal(mean[b], stored.Mean[b], 1e-4);
            Assert.Equal(std[b], stored.Std[b], 1e-4);
        }
    }

    [Fact]
    public async Task Extracts_every_good_clip_rejects_bad_audio_and_normalises_over_train()
    {
        var dataset = MakeDataset();
        var result = await Run(dataset, Store);

        Assert.False(result.UpToDate);
        Assert.Equal(TestFiles.GoodClips.Count + DecodedAwkward.Length, result.Extracted);
        Assert.Equal(Rejected.Length, result.Rejected);
        Assert.Equal(0, result.Reused);
        Assert.True(result.NormalisationRecomputed);

        var store = FeatureStore.Open(Store);
        Assert.Equal(result.Extracted, store.Clips.Count);
        foreach (var entry in store.Clips)
        {
            var expected = Reference(Path.Combine(DataRoot, entry.Path));
            Assert.Equal(expected.Length / Bands, entry.Frames);
            Assert.Equal(expected, StoredFeatures(Store, entry));
            Assert.Equal(expected, store.Load(entry).Data);
        }
        Assert.Contains(store.Clips.Single(c => c.Path == "train/truncated.wav").Warnings, w => w.Length > 0);
        Assert.Equal("1003", store.Clips.Single(c => c.Path == "validation/1003_DFA_HAP_XX.wav").Actor);

        // Each broken fixture is listed with the reason the extractor itself gives.
        Assert.Equal(Rejected.Select(n => $"train/{n}").Order(), store.Rejected.Select(r => r.Path).Order());
        foreach (var rejected in store.Rejected)
        {
            var reason = Assert.Throws<AudioFormatException>(() => new ClipFeatureExtractor().FromFile(Path.Combine(DataRoot, rejected.Path))).Reason;
            Assert.Equal(reason, rejected.Reason);
            Assert.Equal("audio", rejected.Stage);
        }

        AssertNormalisation(dataset, store);
        Assert.Equal(1, store.NormalisationFile!.Ddof);

        var metadata = store.Metadata;
        Assert.Equal(dataset.Root, metadata.DataRoot);
        Assert.Equal(DatasetFingerprint.Compute(dataset), metadata.DatasetFingerprint);
        Assert.Equal(FeatureRecipe.Version, ((JsonElement)metadata.Recipe["version"]).GetInt32());
        Assert.Equal(3 + DecodedAwkward.Length, metadata.ClipsPerPartition["train"]);
        Assert.Equal(2, metadata.ClipsPerPartition["validation"]);
        Assert.Equal(Rejected.Length, metadata.Rejected);
        Assert.Equal(store.Clips.Sum(c => c.DurationSeconds), metadata.Durations.Total, 1e-9);
        Assert.Equal(store.Clips.Max(c => c.DurationSeconds), metadata.Durations.Max);
        Assert.True(File.Exists(Path.Combine(Store, FeatureStoreFiles.Labels)));

        var validation = store.LoadPartition(Partition.Validation);
        Assert.Equal(["1003_DFA_HAP_XX", "1004_DFA_NEU_XX"], validation.Select(c => c.Id));
        Assert.Equal(3, validation[0].Label);
    }

    [Fact]
    public async Task Second_run_on_an_unchanged_dataset_does_no_work()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var files = Directory.GetFiles(Store, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);

        // Proof that nothing is decoded: garble a clip but keep its size and time stamp. Decoding it would reject it.
        var garbled = Path.Combine(DataRoot, dataset.Clips[0].RelativePath);
        var stamp = File.GetLastWriteTimeUtc(garbled);
        File.WriteAllBytes(garbled, new byte[new FileInfo(garbled).Length]);
        File.SetLastWriteTimeUtc(garbled, stamp);

        var again = await Run(DatasetReader.Open(DataRoot), Store);

        Assert.True(again.UpToDate);
        Assert.Equal(0, again.Extracted);
        Assert.Equal(TestFiles.GoodClips.Count + DecodedAwkward.Length, again.Reused);
        Assert.Equal(Rejected.Length, again.Rejected);
        Assert.False(again.NormalisationRecomputed);
        Assert.Equal(files, Directory.GetFiles(Store, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
    }

    [Fact]
    public async Task Changed_clip_is_extracted_again_and_the_normalisation_follows()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var changed = dataset.Clips.First(c => c.Partition == Partition.Train);
        var path = dataset.FullPath(changed);
        File.Copy(Path.Combine(TestFiles.LogmelFixtures, "clip16k_mono_s16_b.wav"), path, overwrite: true);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));

        var result = await Run(DatasetReader.Open(DataRoot), Store);

        Assert.Equal(1, result.Extracted);
        Assert.Equal(TestFiles.GoodClips.Count + DecodedAwkward.Length - 1, result.Reused);
        Assert.True(result.NormalisationRecomputed);
        var store = FeatureStore.Open(Store);
        Assert.Equal(Reference(path), store.Load(store.Clips.Single(c => c.Id == changed.Id)).Data);
        AssertNormalisation(dataset, store);
    }

    [Fact]
    public async Task Repartitioned_clip_reuses_features_and_recomputes_the_normalisation_from_the_store()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var labels = File.ReadAllText(Path.Combine(DataRoot, "labels.csv"))
            .Replace("validation/1003_DFA_HAP_XX.wav,3,validation", "validation/1003_DFA_HAP_XX.wav,3,train", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(DataRoot, "labels.csv"), labels);
        var moved = DatasetReader.Open(DataRoot);

        var result = await Run(moved, Store);

        Assert.Equal(0, result.Extracted);
        Assert.False(result.UpToDate);
        Assert.True(result.NormalisationRecomputed);
        var store = FeatureStore.Open(Store);
        Assert.Equal(Partition.Train, store.Clips.Single(c => c.Id == "1003_DFA_HAP_XX").Partition);
        AssertNormalisation(moved, store);
    }

    [Fact]
    public async Task Removed_clip_leaves_the_store_and_label_change_keeps_the_normalisation()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var lines = File.ReadAllLines(Path.Combine(DataRoot, "labels.csv")).ToList();
        lines.RemoveAll(l => l.StartsWith("test/1006_", StringComparison.Ordinal));
        var index = lines.FindIndex(l => l.StartsWith("test/1005_", StringComparison.Ordinal));
        lines[index] = lines[index].Replace(",5,test", ",1,test", StringComparison.Ordinal);
        File.WriteAllLines(Path.Combine(DataRoot, "labels.csv"), lines);

        var result = await Run(DatasetReader.Open(DataRoot), Store);

        Assert.Equal(1, result.Removed);
        Assert.Equal(0, result.Extracted);
        Assert.False(result.NormalisationRecomputed);
        var store = FeatureStore.Open(Store);
        Assert.DoesNotContain(store.Clips, c => c.Id == "1006_DFA_ANG_XX");
        Assert.Equal(1, store.Clips.Single(c => c.Id == "1005_DFA_SAD_XX").Label);
    }

    [Fact]
    public async Task Force_extracts_everything_again_and_drops_the_old_parts()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var oldParts = Directory.GetFiles(Path.Combine(Store, FeatureStoreFiles.FeaturesFolder));

        var result = await Run(dataset, Store, force: true);

        Assert.Equal(TestFiles.GoodClips.Count + DecodedAwkward.Length, result.Extracted);
        Assert.Equal(0, result.Reused);
        Assert.All(oldParts, p => Assert.False(File.Exists(p)));
        Assert.Equal(LiveBytes(FeatureStore.Open(Store)), FeatureBytes(Store));
    }

    [Fact]
    public async Task Mostly_dead_part_is_compacted_and_the_store_does_not_grow()
    {
        var dataset = MakeDataset();
        await FeatureStage.RunAsync(dataset, Store, new FeatureStageOptions { NumWorkers = 1 });
        var first = Assert.Single(Directory.GetFiles(Path.Combine(Store, FeatureStoreFiles.FeaturesFolder)));

        // Re-record most clips: their old matrices become dead data in the first part.
        var touched = dataset.Clips.Where(c => c.Partition == Partition.Train).ToList();
        foreach (var clip in touched) File.SetLastWriteTimeUtc(dataset.FullPath(clip), DateTime.UtcNow.AddMinutes(5));
        var result = await Run(DatasetReader.Open(DataRoot), Store);

        Assert.Equal(touched.Count - Rejected.Length, result.Extracted);
        Assert.False(File.Exists(first));
        var store = FeatureStore.Open(Store);
        Assert.Equal(LiveBytes(store), FeatureBytes(store.Directory));
        foreach (var entry in store.Clips) Assert.Equal(Reference(Path.Combine(DataRoot, entry.Path)), store.Load(entry).Data);
        AssertNormalisation(dataset, store);
    }

    [Fact]
    public async Task Official_layout_store_records_the_split_and_rejected_names()
    {
        foreach (var (fixture, i) in TestFiles.GoodClips.Take(4).Select((f, i) => (f, i)))
        {
            _dir.Copy(Path.Combine(TestFiles.LogmelFixtures, fixture), $"data/AudioWAV/100{i + 1}_IEO_{Emotions.Codes[i]}_XX.wav");
        }
        _dir.Copy(Path.Combine(TestFiles.LogmelFixtures, TestFiles.GoodClips[0]), "data/AudioWAV/bad_name.wav");
        var dataset = DatasetReader.Open(DataRoot, new DatasetOptions { Seed = 5 });

        var result = await Run(dataset, Store);

        Assert.Equal(4, result.Extracted);
        var store = FeatureStore.Open(Store);
        Assert.Equal(5, store.Metadata.SplitSeed);
        Assert.Equal(DatasetLayout.Official, store.Metadata.Layout);
        var rejected = Assert.Single(store.Rejected);
        Assert.Equal(("AudioWAV/bad_name.wav", "dataset"), (rejected.Path, rejected.Stage));
        var labels = File.ReadAllLines(Path.Combine(Store, FeatureStoreFiles.Labels));
        Assert.Equal("path,class,partition", labels[0]);
        Assert.Equal(dataset.Clips.Select(c => $"{c.RelativePath},{c.Label},{c.Partition.ToName()}"), labels.Skip(1));
    }

    [Fact]
    public async Task Cancelled_run_leaves_an_incomplete_store_that_the_next_run_finishes()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        var changed = dataset.Clips.Where(c => c.Partition != Partition.Train).ToList();
        foreach (var clip in changed) File.SetLastWriteTimeUtc(dataset.FullPath(clip), DateTime.UtcNow.AddMinutes(3));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            FeatureStage.RunAsync(dataset, Store, new FeatureStageOptions { NumWorkers = 2 }, null, cancelled.Token));
        var incomplete = Assert.Throws<DatasetFormatException>(() => FeatureStore.Open(Store));
        Assert.Contains("incomplete feature store", incomplete.Reason);

        var resumed = await Run(dataset, Store);
        Assert.Equal(changed.Count, resumed.Extracted);
        Assert.False(resumed.NormalisationRecomputed);
        var store = FeatureStore.Open(Store);
        foreach (var entry in store.Clips) Assert.Equal(Reference(Path.Combine(DataRoot, entry.Path)), store.Load(entry).Data);
    }

    [Fact]
    public void Incomplete_or_missing_store_is_reported_with_its_path()
    {
        var missing = Assert.Throws<DatasetFormatException>(() => FeatureStore.Open(_dir["nothing"]));
        Assert.Contains("not found", missing.Message);
        _dir.Write("store/index.json", "{}");
        var incomplete = Assert.Throws<DatasetFormatException>(() => FeatureStore.Open(Store));
        Assert.Contains("incomplete feature store", incomplete.Message);
        Assert.Contains(Store, incomplete.Message);
    }

    [Fact]
    public void Truncated_part_file_is_reported()
    {
        var file = _dir.Write("short.f32", "abcdefgh");
        var e = Assert.Throws<DatasetFormatException>(() => FeatureStore.ReadMatrix(file, 4, 2));
        Assert.Equal(file, e.FilePath);
        Assert.Contains("expected 2 frames x 80 bands (640 bytes) at offset 4, found 4 bytes", e.Message);
    }

    [Fact]
    public async Task Truncated_part_is_not_reused()
    {
        var dataset = MakeDataset();
        await Run(dataset, Store);
        foreach (var part in Directory.GetFiles(Path.Combine(Store, FeatureStoreFiles.FeaturesFolder)))
        {
            using var stream = new FileStream(part, FileMode.Open);
            stream.SetLength(stream.Length / 2);
        }
        var result = await Run(dataset, Store);
        Assert.True(result.Extracted > 0);
        var store = FeatureStore.Open(Store);
        foreach (var entry in store.Clips) Assert.Equal(Reference(Path.Combine(DataRoot, entry.Path)), store.Load(entry).Data);
    }

    [Fact]
    public void Fingerprint_changes_with_stamp_and_labels()
    {
        var dataset = MakeDataset();
        var before = DatasetFingerprint.Compute(dataset);
        Assert.Equal(before, DatasetFingerprint.Compute(DatasetReader.Open(DataRoot)));
        var relabelled = dataset with { Clips = dataset.Clips.Select((c, i) => i == 0 ? c with { Label = 5 } : c).ToList() };
        Assert.NotEqual(before, DatasetFingerprint.Compute(relabelled));
        File.SetLastWriteTimeUtc(dataset.FullPath(dataset.Clips[1]), DateTime.UtcNow.AddHours(1));
        Assert.NotEqual(before, DatasetFingerprint.Compute(dataset));
    }
}
