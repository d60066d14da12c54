using System.Text;

namespace CremaD.Datasets.Tests;

public sealed class OfficialLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Demographics shaped like CREMA-D's: 1001.. with the given sexes.</summary>
    private static string Demographics(IEnumerable<(string Actor, string Sex)> actors)
    {
        var text = new StringBuilder("\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\r\n");
        foreach (var (actor, sex) in actors) text.Append($"{actor},30,\"{sex}\",\"Caucasian\",\"Not Hispanic\"\r\n");
        return text.ToString();
    }

    private static List<(string Actor, string Sex)> Actors(int male, int female) =>
        Enumerable.Range(0, male + female)
            .Select(i => ((1001 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), i % (male + female) < male ? "Male" : "Female"))
            .ToList();

    private void MakeCorpus(IEnumerable<string> actors)
    {
        foreach (var actor in actors)
        {
            foreach (var emotion in Emotions.Codes) _dir.Touch($"AudioWAV/{actor}_DFA_{emotion}_XX.wav");
        }
    }

    [Fact]
    public void Reads_labels_from_names_and_lists_bad_names_as_rejected()
    {
        var actors = Actors(3, 3);
        MakeCorpus(actors.Select(a => a.Actor));
        _dir.Write("VideoDemographics.csv", Demographics(actors));
        _dir.Touch("AudioWAV/1001_DFA_XYZ_XX.wav");
        _dir.Touch("AudioWAV/notes.wav");
        _dir.Touch("AudioWAV/1001_DFA_ANG_ZZ.wav");
        _dir.Touch("AudioWAV/readme.txt");

        var dataset = DatasetReader.Open(_dir.Path, new DatasetOptions { Seed = 3 });

        Assert.Equal(DatasetLayout.Official, dataset.Layout);
        Assert.Equal(36, dataset.Clips.Count);
        Assert.Equal(_dir["VideoDemographics.csv"], dataset.DemographicsPath);
        Assert.Equal(3, dataset.SplitSeed);
        var anger = dataset.Clips.Single(c => c.Id == "1004_DFA_ANG_XX");
        Assert.Equal(("AudioWAV/1004_DFA_ANG_XX.wav", 0, "1004"), (anger.RelativePath, anger.Label, anger.Actor));
        Assert.Equal(["AudioWAV/1001_DFA_ANG_ZZ.wav", "AudioWAV/1001_DFA_XYZ_XX.wav", "AudioWAV/notes.wav"], dataset.Rejected.Select(r => r.Path));
        Assert.Contains("unknown intensity level 'ZZ'", dataset.Rejected[0].Reason);
        Assert.Contains("unknown emotion code 'XYZ'", dataset.Rejected[1].Reason);
        Assert.Contains("does not follow", dataset.Rejected[2].Reason);

        // Speaker-independent: each actor's clips all land in one partition, and each partition has a man and a woman.
        foreach (var group in dataset.Clips.GroupBy(c => c.Actor)) Assert.Single(group.Select(c => c.Partition).Distinct());
        foreach (var partition in Enum.GetValues<Partition>())
        {
            var sexes = dataset.Actors(partition).Select(a => actors.Single(x => x.Actor == a).Sex).Distinct().Order();
            Assert.Equal(["Female", "Male"], sexes);
        }
    }

    [Fact]
    public void A_listing_of_the_same_files_reads_as_the_same_dataset_as_the_folder()
    {
        var actors = Actors(3, 3);
        MakeCorpus(actors.Select(a => a.Actor));
        _dir.Write("VideoDemographics.csv", Demographics(actors));
        _dir.Touch("AudioWAV/notes.wav");
        _dir.Touch("AudioWAV/deeper/1001_DFA_SAD_XX.wav"); // not directly in AudioWAV/: not a clip, either way
        var relative = Directory.EnumerateFiles(_dir.Path, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_dir.Path, f).Replace('\\', '/')).ToList();
        var elsewhere = Path.Combine(Path.GetTempPath(), "never-created-" + Guid.NewGuid().ToString("N"));
        var listed = new ListedDatasetFiles(elsewhere, relative,
            new Dictionary<string, string> { ["VideoDemographics.csv"] = File.ReadAllText(_dir["VideoDemographics.csv"]) });

        var fromFolder = DatasetReader.Open(_dir.Path, new DatasetOptions { Seed = 5 });
        var fromListing = DatasetReader.Open(elsewhere, new DatasetOptions { Seed = 5, Files = listed });

        Assert.Equal(fromFolder.Layout, fromListing.Layout);
        Assert.Equal(fromFolder.Clips, fromListing.Clips);
        Assert.Equal(fromFolder.Rejected, fromListing.Rejected);
        Assert.Equal(Path.Combine(elsewhere, "VideoDemographics.csv"), fromListing.DemographicsPath);
        Assert.False(Directory.Exists(elsewhere));
    }

    [Fact]
    public void Written_labels_read_back_as_the_same_course_dataset()
    {
        var actors = Actors(4, 4);
        MakeCorpus(actors.Select(a => a.Actor));
        _dir.Write("VideoDemographics.csv", Demographics(actors));
        var official = DatasetReader.Open(_dir.Path);

        LabelsCsv.Write(official, _dir["labels.csv"]);
        var course = DatasetReader.Open(_dir.Path);
        Assert.Equal(DatasetLayout.Course, course.Layout);
        Assert.Equal(official.Clips, course.Clips);

        // Elsewhere, the paths are relative to the file and read back through LabelsPath.
        LabelsCsv.Write(official, _dir["out/split/labels.csv"]);
        Assert.StartsWith("../../AudioWAV/", File.ReadAllLines(_dir["out/split/labels.csv"])[1]);
        var elsewhere = DatasetReader.Open(_dir.Path, new DatasetOptions { LabelsPath = _dir["out/split/labels.csv"] });
        Assert.Equal(official.Clips, elsewhere.Clips);
    }

    [Fact]
    public void Without_demographics_the_split_is_still_by_actor()
    {
        MakeCorpus(Actors(5, 5).Select(a => a.Actor));
        var dataset = DatasetReader.Open(_dir["AudioWAV"]); // the AudioWAV folder itself as the root
        Assert.Null(dataset.DemographicsPath);
        Assert.Equal(60, dataset.Clips.Count);
        Assert.Equal("1001_DFA_ANG_XX.wav", dataset.Clips[0].RelativePath);
        foreach (var partition in Enum.GetValues<Partition>()) Assert.NotEmpty(dataset.Actors(partition));
        Assert.Empty(dataset.Actors(Partition.Train).Intersect(dataset.Actors(Partition.Test)));
    }

    [Fact]
    public void Folder_without_valid_names_is_an_error()
    {
        _dir.Touch("AudioWAV/a.wav");
        var e = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
        Assert.Equal(_dir["AudioWAV"], e.FilePath);
        Assert.Contains("named like 1001_DFA_ANG_XX.wav", e.Reason);
    }

    [Fact]
    public void Malformed_demographics_name_the_line()
    {
        MakeCorpus(["1001", "1002"]);
        _dir.Write("VideoDemographics.csv", "ActorID,Age,Sex\n1001,30,Male\n1001,31,Female\n");
        var e = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains("duplicate ActorID '1001'", e.Reason);

        _dir.Write("VideoDemographics.csv", "ActorID,Age\n1001,30\n");
        e = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
        Assert.Contains("missing column 'Sex'", e.Reason);
    }
}

public sealed class ActorSplitTests
{
    private static readonly IReadOnlyDictionary<string, ActorInfo> CremaDShaped =
        Enumerable.Range(1001, 91).ToDictionary(
            a => a.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // 48 men and 43 women, interleaved as in CREMA-D's numbering
            a => new ActorInfo(a.ToString(System.Globalization.CultureInfo.InvariantCulture), 30, (a * 7919 % 91) < 48 ? "Male" : "Female", "", ""));

    [Fact]
    public void Split_is_70_15_15_by_actor_and_balanced_by_sex()
    {
        Assert.Equal(48, CremaDShaped.Values.Count(a => a.Sex == "Male"));
        var split = ActorSplit.Split(CremaDShaped.Keys, CremaDShaped, seed: 42);

        Assert.Equal(91, split.Count);
        var byPartition = split.GroupBy(p => p.Value).ToDictionary(g => g.Key, g => g.Select(p => p.Key).ToList());
        Assert.InRange(byPartition[Partition.Train].Count, 62, 66);
        Assert.InRange(byPartition[Partition.Validation].Count, 13, 15);
        Assert.InRange(byPartition[Partition.Test].Count, 13, 15);
        const double overallMale = 48.0 / 91;
        foreach (var (_, actors) in byPartition)
        {
            var male = actors.Count(a => CremaDShaped[a].Sex == "Male") / (double)actors.Count;
            Assert.InRange(male, overallMale - 0.06, overallMale + 0.06);
        }
    }

    [Fact]
    public void Same_seed_same_split_other_seed_other_split()
    {
        var a = ActorSplit.Split(CremaDShaped.Keys, CremaDShaped, seed: 42);
        var b = ActorSplit.Split(CremaDShaped.Keys.Reverse(), CremaDShaped, seed: 42);
        var c = ActorSplit.Split(CremaDShaped.Keys, CremaDShaped, seed: 43);
        Assert.Equal(a.OrderBy(p => p.Key), b.OrderBy(p => p.Key));
        Assert.NotEqual(a.OrderBy(p => p.Key), c.OrderBy(p => p.Key));
    }

    [Fact]
    public void Small_groups_still_fill_every_partition()
    {
        var four = new Dictionary<string, ActorInfo>
        {
            ["1"] = new("1", null, "Male", "", ""), ["2"] = new("2", null, "Male", "", ""),
            ["3"] = new("3", null, "Female", "", ""), ["4"] = new("4", null, "Female", "", ""),
        };
        var split = ActorSplit.Split(four.Keys, four, seed: 1);
        Assert.Equal(2, split.Values.Count(p => p == Partition.Train));
        Assert.Equal(1, split.Values.Count(p => p == Partition.Validation));
        Assert.Equal(1, split.Values.Count(p => p == Partition.Test));
    }

    [Fact]
    public void Fractions_must_add_up()
    {
        Assert.Throws<ArgumentException>(() => ActorSplit.Split(["1"], null, 1, new SplitFractions(0.5, 0.2, 0.2)));
    }
}

public sealed class CremaDFileNameTests
{
    [Theory]
    [InlineData("1001_DFA_ANG_XX.wav", "1001", "DFA", "ANG", "XX", 0)]
    [InlineData("/x/AudioWAV/1091_WSI_sad_hi.WAV", "1091", "WSI", "SAD", "HI", 5)]
    public void Parses_valid_names(string path, string actor, string sentence, string emotion, string level, int label)
    {
        Assert.True(CremaDFileName.TryParse(path, out var name, out _));
        Assert.Equal(new CremaDFileName(actor, sentence, emotion, level), name);
        Assert.Equal(label, name!.Label);
    }

    [Theory]
    [InlineData("1001_DFA_ANG.wav", "does not follow")]
    [InlineData("abcd_DFA_ANG_XX.wav", "is not a number")]
    [InlineData("1001_DF_ANG_XX.wav", "not three letters")]
    [InlineData("1001_DFA_CALM_XX.wav", "unknown emotion code 'CALM'")]
    [InlineData("1001_DFA_ANG_QQ.wav", "unknown intensity level 'QQ'")]
    public void Rejects_other_names_with_the_reason(string path, string reason)
    {
        Assert.False(CremaDFileName.TryParse(path, out var name, out var why));
        Assert.Null(name);
        Assert.Contains(reason, why);
    }
}
