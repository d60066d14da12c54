namespace CremaD.Datasets.Tests;

public sealed class PerceivedLabelsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int Label(string code) => Emotions.IndexOf(code);

    [Fact]
    public void The_built_in_table_has_a_voice_vote_for_every_CREMA_D_clip()
    {
        Assert.Equal(7442, PerceivedEmotions.VoiceVotes.Count);
        Assert.Equal("N", PerceivedEmotions.VoiceVotes["1001_IEO_HAP_LO"]);
        Assert.Equal(644, PerceivedEmotions.VoiceVotes.Values.Count(v => v.Contains(':', StringComparison.Ordinal)));
    }

    [Fact]
    public void A_clip_gets_its_majority_voice_vote_or_the_reason_it_has_none()
    {
        // Acted happy, heard as neutral.
        Assert.Equal(Label("NEU"), PerceivedEmotions.Of("train/1001_IEO_HAP_LO.wav", out _));
        Assert.Equal(Label("ANG"), PerceivedEmotions.Of("1001_DFA_ANG_XX.wav", out _));

        Assert.Null(PerceivedEmotions.Of("train/1001_IEO_ANG_MD.wav", out var tie));
        Assert.Equal("no perceived emotion: the voice votes for 1001_IEO_ANG_MD are tied between anger, disgust", tie);
        // Named like a CREMA-D clip, but not one of the corpus (sentence 'XYZ' does not exist).
        Assert.Null(PerceivedEmotions.Of("AudioWAV/1001_XYZ_ANG_XX.wav", out var unrated));
        Assert.Contains("has no voice vote in CREMA-D's summaryTable.csv", unrated, StringComparison.Ordinal);
        Assert.Null(PerceivedEmotions.Of("notes.wav", out var unnamed));
        Assert.StartsWith("no perceived emotion: ", unnamed, StringComparison.Ordinal);
    }

    [Fact]
    public void Official_layout_relabels_clips_keeps_the_split_and_sets_aside_ties()
    {
        foreach (var actor in new[] { "1001", "1002", "1003" })
        {
            foreach (var emotion in Emotions.Codes) _dir.Touch($"AudioWAV/{actor}_DFA_{emotion}_XX.wav");
        }
        var acted = DatasetReader.Open(_dir.Path);
        var perceived = DatasetReader.Open(_dir.Path, new DatasetOptions { LabelsFrom = LabelSource.Perceived });

        Assert.Equal(LabelSource.Perceived, perceived.LabelsFrom);
        // 1003's fear (F:N:S), happy (H:S) and sad (N:S) are ties.
        Assert.Equal(15, perceived.Clips.Count);
        Assert.Equal(["AudioWAV/1003_DFA_FEA_XX.wav", "AudioWAV/1003_DFA_HAP_XX.wav", "AudioWAV/1003_DFA_SAD_XX.wav"],
            perceived.Rejected.Select(r => r.Path).Order(StringComparer.Ordinal));
        Assert.All(perceived.Rejected, r => Assert.Contains("tied between", r.Reason, StringComparison.Ordinal));
        var byId = perceived.Clips.ToDictionary(c => c.Id);
        Assert.Equal(Label("NEU"), byId["1001_DFA_HAP_XX"].Label);
        Assert.Equal(Label("NEU"), byId["1001_DFA_SAD_XX"].Label);
        Assert.Equal(Label("HAP"), byId["1002_DFA_HAP_XX"].Label);
        Assert.Equal(Label("NEU"), byId["1003_DFA_DIS_XX"].Label);
        // Same actors in the same partitions: only the labels moved.
        var actedById = acted.Clips.ToDictionary(c => c.Id);
        Assert.All(perceived.Clips, c => Assert.Equal(actedById[c.Id].Partition, c.Partition));
        Assert.NotEqual(DatasetFingerprint.Compute(acted), DatasetFingerprint.Compute(perceived));
    }

    [Fact]
    public void Course_layout_relabels_the_rows_of_labels_csv()
    {
        _dir.Touch("train/1001_IEO_HAP_LO.wav");
        _dir.Touch("train/1001_IEO_ANG_MD.wav");
        _dir.Touch("test/1002_DFA_HAP_XX.wav");
        _dir.Write("labels.csv", "path,class,partition\ntrain/1001_IEO_HAP_LO.wav,3,train\ntrain/1001_IEO_ANG_MD.wav,0,train\ntest/1002_DFA_HAP_XX.wav,3,test\n");
        var perceived = DatasetReader.Open(_dir.Path, new DatasetOptions { LabelsFrom = LabelSource.Perceived });
        Assert.Equal([("train/1001_IEO_HAP_LO.wav", Label("NEU")), ("test/1002_DFA_HAP_XX.wav", Label("HAP"))],
            perceived.Clips.Select(c => (c.RelativePath, c.Label)));
        var tie = Assert.Single(perceived.Rejected);
        Assert.Equal("train/1001_IEO_ANG_MD.wav", tie.Path);
    }

    [Fact]
    public void A_dataset_without_any_perceived_label_is_an_error_naming_the_option()
    {
        _dir.Touch("train/a.wav");
        _dir.Write("labels.csv", "path,class,partition\ntrain/a.wav,3,train\n");
        var error = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path, new DatasetOptions { LabelsFrom = LabelSource.Perceived }));
        Assert.Contains("--labels-from perceived", error.Message, StringComparison.Ordinal);
    }
}
