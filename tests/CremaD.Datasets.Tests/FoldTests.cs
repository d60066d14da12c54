namespace CremaD.Datasets.Tests;

public sealed class FoldTests
{
    private static string Demo => Path.Combine(TestFiles.RepoRoot, "samples", "demo");

    [Fact]
    public void A_fold_regroups_the_demo_by_speaker_test_fold_k_validation_fold_k_plus_1_the_rest_train()
    {
        var plain = DatasetReader.Open(Demo);
        var folds = ActorFolds.Assign(plain.Actors(), 3, 42);
        var testedSoFar = new HashSet<string>();
        for (var k = 0; k < 3; k++)
        {
            var dataset = DatasetReader.Open(Demo, new DatasetOptions { Fold = new FoldSplit(k, 3) });
            Assert.Equal(new FoldSplit(k, 3), dataset.Fold);
            Assert.Equal(folds[k], dataset.Actors(Partition.Test));
            Assert.Equal(folds[(k + 1) % 3], dataset.Actors(Partition.Validation));
            Assert.Empty(dataset.Actors(Partition.Train).Intersect(dataset.Actors(Partition.Test).Concat(dataset.Actors(Partition.Validation))));
            // Same clips and labels; only the partitions move.
            Assert.Equal(plain.Clips.Select(c => (c.Id, c.Label)), dataset.Clips.Select(c => (c.Id, c.Label)));
            Assert.Empty(testedSoFar.Intersect(dataset.Actors(Partition.Test)));
            testedSoFar.UnionWith(dataset.Actors(Partition.Test));
        }
        Assert.Equal(plain.Actors(), testedSoFar.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_clip_without_a_speaker_cannot_be_folded_and_the_error_names_it()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["train"]);
        foreach (var name in new[] { "1001_DFA_ANG_XX.wav", "1002_DFA_SAD_XX.wav", "1003_DFA_HAP_XX.wav", "mystery.wav" })
            File.Copy(Path.Combine(Demo, "train", "1001_IEO_NEU_XX.wav"), dir["train/" + name]);
        File.WriteAllText(dir["labels.csv"], "path,class,partition\ntrain/1001_DFA_ANG_XX.wav,0,train\ntrain/1002_DFA_SAD_XX.wav,5,train\n" +
                                             "train/1003_DFA_HAP_XX.wav,3,validation\ntrain/mystery.wav,4,test\n");
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(dir.Path, new DatasetOptions { Fold = new FoldSplit(0, 3) }));
        Assert.Contains("mystery.wav", error.Message, StringComparison.Ordinal);
        Assert.Contains("no actor", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => DatasetReader.Open(Demo, new DatasetOptions { Fold = new FoldSplit(3, 3) }));
    }
}
