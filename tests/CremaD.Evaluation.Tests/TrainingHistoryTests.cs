namespace CremaD.Evaluation.Tests;

public class TrainingHistoryTests
{
    private static readonly EpochRecord[] History =
    [
        new(1, 1.7917594692280550, 0.25, 1.75, 0.3, 1e-3, 41.5),
        new(2, 1.2, 1.0 / 3, 1.3, 0.45, 5e-4, 40.25),
        new(3, 0.9, 0.6, 1.1, 0.55, 1e-05, 40.0),
    ];

    [Fact]
    public void Write_then_Read_returns_the_same_records()
    {
        var directory = TestData.NewTempDirectory();
        try
        {
            var path = Path.Combine(directory, "nested", ArtifactNames.History);
            TrainingHistory.Write(path, History);

            Assert.Equal(History, TrainingHistory.Read(path));
            Assert.Equal([ArtifactNames.History], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Json_is_an_array_of_snake_case_epoch_objects_as_python_writes_it()
    {
        var json = TrainingHistory.ToJson(History[..1]);

        Assert.Equal(
            """
            [
              {
                "epoch": 1,
                "train_loss": 1.791759469228055,
                "train_acc": 0.25,
                "val_loss": 1.75,
                "val_acc": 0.3,
                "lr": 0.001,
                "seconds": 41.5
              }
            ]
            """.ReplaceLineEndings("\n"),
            json);
        Assert.Contains("\"lr\": 1e-05", TrainingHistory.ToJson(History));
    }

    [Fact]
    public void A_diverged_epoch_round_trips_through_strict_json()
    {
        EpochRecord[] diverged = [new(1, double.NaN, 0.1, double.PositiveInfinity, 0.1, 1e-3, double.NegativeInfinity)];
        var json = TrainingHistory.ToJson(diverged);

        Assert.Contains("\"train_loss\": \"NaN\"", json);
        Assert.Contains("\"val_loss\": \"Infinity\"", json);
        Assert.Equal(diverged, TrainingHistory.FromJson(json));
    }

    [Fact]
    public void An_empty_history_is_an_empty_array()
    {
        Assert.Equal("[]", TrainingHistory.ToJson([]));
        Assert.Empty(TrainingHistory.FromJson("[]"));
    }

    [Theory]
    [InlineData("{}", "JSON array")]
    [InlineData("[1]", "Entry 0 is not an object")]
    [InlineData("""[{"epoch": 1.5}]""", "\"epoch\" must be an integer")]
    [InlineData("""[{"epoch": 1, "train_loss": 1, "train_acc": 1, "val_loss": 1, "val_acc": 1, "lr": 1}]""", "Entry 0 has no \"seconds\"")]
    [InlineData("""[{"epoch": 1, "train_loss": "x", "train_acc": 1, "val_loss": 1, "val_acc": 1, "lr": 1, "seconds": 1}]""", "\"train_loss\" must be a number")]
    [InlineData("[", "Not valid JSON")]
    public void Read_names_the_file_and_the_fault(string json, string expectedMessagePart)
    {
        var directory = TestData.NewTempDirectory();
        try
        {
            var path = Path.Combine(directory, ArtifactNames.History);
            File.WriteAllText(path, json);
            var error = Assert.Throws<InvalidDataException>(() => TrainingHistory.Read(path));
            Assert.StartsWith(path + ":", error.Message);
            Assert.Contains(expectedMessagePart, error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Reading_a_missing_file_says_so()
    {
        Assert.Throws<FileNotFoundException>(() => TrainingHistory.Read(Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".json")));
    }
}
