namespace CremaD.Datasets.Tests;

public sealed class CourseLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private void TouchAll(params string[] paths)
    {
        foreach (var p in paths) _dir.Touch(p);
    }

    private DatasetFormatException Fails(string labels)
    {
        _dir.Write("labels.csv", labels);
        return Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
    }

    [Fact]
    public void Reads_course_layout_with_bom_crlf_quotes_codes_and_any_column_order()
    {
        TouchAll("train/1001_DFA_ANG_XX.wav", "validation/1002_IEO_HAP_HI.wav", "test/odd, name.wav", "train/1003_TIE_SAD_XX.wav");
        _dir.Write("labels.csv",
            "\uFEFFpartition,path,class\r\n" +
            "train,train/1001_DFA_ANG_XX.wav,0\r\n" +
            "val,\"validation/1002_IEO_HAP_HI.wav\",HAP\r\n" +
            "\r\n" +
            "test,\"test/odd, name.wav\", sad \r\n" +
            "TRAIN , train/1003_TIE_SAD_XX.wav , 5\r\n");

        var dataset = DatasetReader.Open(_dir.Path);

        Assert.Equal(DatasetLayout.Course, dataset.Layout);
        Assert.Equal(Path.Combine(_dir.Path, "labels.csv"), dataset.LabelsPath);
        Assert.Equal(
            [
                new ClipEntry("1001_DFA_ANG_XX", "train/1001_DFA_ANG_XX.wav", 0, Partition.Train, "1001"),
                new ClipEntry("1002_IEO_HAP_HI", "validation/1002_IEO_HAP_HI.wav", 3, Partition.Validation, "1002"),
                new ClipEntry("odd, name", "test/odd, name.wav", 5, Partition.Test, null),
                new ClipEntry("1003_TIE_SAD_XX", "train/1003_TIE_SAD_XX.wav", 5, Partition.Train, "1003"),
            ],
            dataset.Clips);
        Assert.Equal(2, dataset.Count(Partition.Train));
        Assert.Equal([1, 0, 0, 0, 0, 1], dataset.CountByClass(Partition.Train));
        Assert.Equal(["1001", "1002", "1003"], dataset.Actors());
    }

    [Fact]
    public void A_path_full_of_quotes_is_read_in_one_pass_and_reported_missing()
    {
        // Two million quotes inside an unquoted field: each used to copy the field so far (quadratic; minutes), now a
        // flag says the field has text and the quote is a character like any other.
        var path = "train/a" + new string('"', 2_000_000) + ".wav";
        TouchAll("train/1001_DFA_ANG_XX.wav");
        var error = Fails($"path,class,partition\n{path},0,train\n");

        Assert.Equal(2, error.LineNumber);
        Assert.StartsWith("file not found: train/a\"\"", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Quoted_field_may_span_lines_and_hold_doubled_quotes()
    {
        TouchAll("a \"b\".wav", "c.wav");
        _dir.Write("labels.csv", "path,class,partition\n\"a \"\"b\"\".wav\",1,\"tr\nain\"\n\"c.wav\",2,test\n");
        // The partition "tr\nain" is not a partition name: the error names the line the record starts on.
        var e = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("unknown partition", e.Reason);

        _dir.Write("labels.csv", "path,class,partition\n\"a \"\"b\"\".wav\",1,train\n\"c.wav\",2,test\n");
        var dataset = DatasetReader.Open(_dir.Path);
        Assert.Equal(["a \"b\".wav", "c.wav"], dataset.Clips.Select(c => c.RelativePath));
    }

    [Fact]
    public void Same_file_name_in_two_folders_gets_path_ids()
    {
        TouchAll("train/x.wav", "test/x.wav", "test/y.wav");
        _dir.Write("labels.csv", "path,class,partition\ntrain/x.wav,0,train\ntest/x.wav,1,test\ntest/y.wav,1,test\n");
        var ids = DatasetReader.Open(_dir.Path).Clips.Select(c => c.Id);
        Assert.Equal(["train/x", "test/x", "y"], ids);
    }

    [Fact]
    public void Actor_column_wins_over_the_file_name()
    {
        TouchAll("a.wav");
        _dir.Write("labels.csv", "path,class,partition,actor\na.wav,0,train,spk7\n");
        Assert.Equal("spk7", DatasetReader.Open(_dir.Path).Clips.Single().Actor);
    }

    [Fact]
    public void Labels_file_elsewhere_resolves_paths_from_its_own_folder()
    {
        TouchAll("data/train/a.wav");
        var labels = _dir.Write("lists/my.csv", "path,class,partition\n../data/train/a.wav,0,train\n");
        var dataset = DatasetReader.Open(_dir["data"], new DatasetOptions { LabelsPath = labels });
        Assert.Equal("train/a.wav", dataset.Clips.Single().RelativePath);
    }

    [Fact]
    public void Missing_column_names_the_file_line_and_column()
    {
        var e = Fails("path,class\na.wav,0\n");
        Assert.Equal(Path.Combine(_dir.Path, "labels.csv"), e.FilePath);
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("missing column 'partition'", e.Message);
        Assert.StartsWith($"{e.FilePath}:1: ", e.Message);
    }

    [Fact]
    public void Unknown_partition_names_the_line()
    {
        TouchAll("a.wav", "b.wav");
        var e = Fails("path,class,partition\na.wav,0,train\nb.wav,0,holdout\n");
        Assert.Equal(3, e.LineNumber);
        Assert.Contains("unknown partition 'holdout'", e.Reason);
    }

    [Theory]
    [InlineData("6")]
    [InlineData("-1")]
    [InlineData("XYZ")]
    [InlineData("")]
    [InlineData("1.5")]
    public void Bad_class_names_the_line(string value)
    {
        TouchAll("a.wav", "b.wav");
        var e = Fails($"path,class,partition\r\na.wav,0,train\r\nb.wav,{value},train\r\n");
        Assert.Equal(3, e.LineNumber);
        Assert.Contains($"bad class '{value}'", e.Reason);
    }

    [Fact]
    public void Duplicate_path_names_both_lines()
    {
        TouchAll("a.wav");
        var e = Fails("path,class,partition\na.wav,0,train\n\n./a.wav,1,test\n");
        Assert.Equal(4, e.LineNumber);
        Assert.Contains("duplicate path './a.wav' (first listed on line 2)", e.Reason);
    }

    [Fact]
    public void Missing_file_names_the_line_and_path()
    {
        TouchAll("a.wav");
        var e = Fails("path,class,partition\na.wav,0,train\nnot/there.wav,1,test\n");
        Assert.Equal(3, e.LineNumber);
        Assert.Equal("file not found: not/there.wav", e.Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\uFEFF")]
    [InlineData("\r\n\r\n")]
    public void Empty_file_is_an_error(string text)
    {
        var e = Fails(text);
        Assert.Null(e.LineNumber);
        Assert.Contains("empty file", e.Reason);
    }

    [Fact]
    public void Header_only_is_an_error()
    {
        var e = Fails("path,class,partition\n");
        Assert.Contains("no clips", e.Reason);
    }

    [Fact]
    public void Wrong_field_count_names_the_line()
    {
        TouchAll("a.wav");
        var e = Fails("path,class,partition\na.wav,0\n");
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("expected 3 fields, found 2", e.Reason);
    }

    [Fact]
    public void Unterminated_quote_names_the_line_it_opens_on()
    {
        TouchAll("a.wav");
        var e = Fails("path,class,partition\na.wav,0,train\n\"b.wav,1,test\n");
        Assert.Equal(3, e.LineNumber);
        Assert.Contains("unterminated quoted field", e.Reason);
    }

    [Fact]
    public void Path_outside_the_root_is_an_error()
    {
        var e = Fails("path,class,partition\n../elsewhere.wav,0,train\n");
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("outside the data root", e.Reason);
    }

    [Fact]
    public void Missing_root_and_non_dataset_folder_are_errors()
    {
        var missing = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir["nope"]));
        Assert.Contains("does not exist", missing.Message);
        Assert.Contains(_dir["nope"], missing.Message);

        _dir.Write("readme.txt", "hello");
        var notDataset = Assert.Throws<DatasetFormatException>(() => DatasetReader.Open(_dir.Path));
        Assert.Contains("labels.csv", notDataset.Reason);
        Assert.Contains("AudioWAV", notDataset.Reason);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("5", 5)]
    [InlineData("ang", 0)]
    [InlineData("NEU", 4)]
    [InlineData("Fear", 2)]
    [InlineData("7", -1)]
    [InlineData("calm", -1)]
    public void ParseClass_accepts_ids_codes_and_names(string text, int expected) =>
        Assert.Equal(expected, DatasetReader.ParseClass(text));
}
