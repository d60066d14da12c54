using System.Text.Json;
using MassTransit.Serialization;

namespace CremaD.Contracts.Tests;

/// <summary>Messages as MassTransit's System.Text.Json serializer puts them on the wire (camelCase, its converters).</summary>
public sealed class SerializationTests
{
    private static JsonSerializerOptions Wire => SystemTextJsonMessageSerializer.Options;

    private static string ToJson(object message) => JsonSerializer.Serialize(message, message.GetType(), Wire);

    [Fact]
    public void Every_message_type_has_a_sample()
    {
        Assert.Equal(RunMessageTypes.All.OrderBy(t => t.Name), SampleMessages.ByType.Keys.OrderBy(t => t.Name));
        Assert.All(RunMessageTypes.All, type => Assert.Equal("CremaD.Contracts", type.Namespace));
        Assert.All(RunMessageTypes.Events, type => Assert.True(typeof(IRunEvent).IsAssignableFrom(type), type.Name));
    }

    [Theory]
    [MemberData(nameof(SampleMessages.AllTypes), MemberType = typeof(SampleMessages))]
    public void A_message_round_trips_unchanged_with_camel_case_names(Type type)
    {
        var sample = SampleMessages.ByType[type];
        var json = ToJson(sample);

        var back = (IRunMessage)JsonSerializer.Deserialize(json, type, Wire)!;

        Assert.Equal(json, ToJson(back));
        Assert.Equal(SampleMessages.RunId, back.RunId);
        Assert.Empty(back.FindProblems());
        using var document = JsonDocument.Parse(json);
        Assert.Equal(SampleMessages.RunId, document.RootElement.GetProperty("runId").GetGuid());
        Assert.All(PropertyNames(document.RootElement), name => Assert.True(char.IsLower(name[0]), $"{type.Name}: property '{name}' is not camelCase"));
    }

    [Fact]
    public void Enumerations_travel_as_their_lower_case_wire_names()
    {
        using var shard = JsonDocument.Parse(ToJson(SampleMessages.ExtractShard(1)));
        Assert.Equal("official", shard.RootElement.GetProperty("dataset").GetProperty("layout").GetString());
        Assert.Equal(["train", "validation", "validation", "test", "test"],
            shard.RootElement.GetProperty("clips").EnumerateArray().Select(c => c.GetProperty("partition").GetString()));

        using var submit = JsonDocument.Parse(ToJson(SampleMessages.SubmitRun));
        var config = submit.RootElement.GetProperty("config");
        Assert.Equal("cpu", config.GetProperty("device").GetString());
        Assert.Equal("fast", config.GetProperty("loop").GetString());

        using var failed = JsonDocument.Parse(ToJson(SampleMessages.RunFailed));
        Assert.Equal("training", failed.RootElement.GetProperty("stage").GetString());

        using var extracted = JsonDocument.Parse(ToJson(SampleMessages.ShardExtracted(0)));
        Assert.Equal("audio", extracted.RootElement.GetProperty("rejectedClips")[0].GetProperty("stage").GetString());
    }

    [Fact]
    public void Counts_derived_from_lists_are_not_put_on_the_wire()
    {
        var shard = SampleMessages.ShardExtracted(0);
        using var document = JsonDocument.Parse(ToJson(shard));

        Assert.False(document.RootElement.TryGetProperty("extracted", out _));
        Assert.False(document.RootElement.TryGetProperty("rejected", out _));
        Assert.Equal((4, 1), (shard.Extracted, shard.Rejected));
        using var epoch = JsonDocument.Parse(ToJson(SampleMessages.EpochCompleted(2)));
        Assert.False(epoch.RootElement.GetProperty("epoch").TryGetProperty("isBest", out _));
    }

    [Fact]
    public void Records_of_values_are_equal_after_a_round_trip()
    {
        var back = JsonSerializer.Deserialize<SubmitRun>(ToJson(SampleMessages.SubmitRun), Wire)!;

        Assert.Equal(SampleMessages.Config, back.Config);
        Assert.Equal(SampleMessages.Dataset, back.Dataset);
        Assert.Equal(SampleMessages.SubmitRun, back);
    }

    [Fact]
    public void An_evaluation_command_carries_the_runs_recipe_training_summary_and_timestamps()
    {
        using var document = JsonDocument.Parse(ToJson(SampleMessages.EvaluateModel));
        var root = document.RootElement;

        Assert.Equal(3, root.GetProperty("config").GetProperty("epochs").GetInt32());
        Assert.Equal("cpu", root.GetProperty("training").GetProperty("device").GetString());
        Assert.Equal(2, root.GetProperty("training").GetProperty("bestEpoch").GetInt32());
        Assert.Equal(SampleMessages.Start.AddSeconds(15), root.GetProperty("timestamps").GetProperty("featuresReadyAt").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("timestamps").GetProperty("finishedAt").ValueKind);
        Assert.Equal(SampleMessages.EvaluateModel, JsonSerializer.Deserialize<EvaluateModel>(root.GetRawText(), Wire));
    }

    [Fact]
    public void A_submission_that_names_a_few_flags_takes_the_recipe_defaults_for_the_rest()
    {
        const string json = """
            {
              "runId": "5b1f4c2e-9a7d-4e0b-8c63-2f0d9e1a7b44",
              "dataset": { "prefix": "datasets/crema-d/" },
              "config": { "epochs": 5, "useSpecAugment": false, "device": "cuda", "model": "seed" },
              "submittedAt": "2026-11-23T09:30:00+00:00"
            }
            """;

        var submit = JsonSerializer.Deserialize<SubmitRun>(json, Wire)!;

        Assert.Equal(RunConfig.Default with { Epochs = 5, UseSpecAugment = false, Device = RunDevice.Cuda, Model = RunModel.Seed }, submit.Config);
        Assert.Equal(new DatasetRef("datasets/crema-d/", DatasetLayoutChoice.Auto, 42), submit.Dataset);
        Assert.Null(submit.Name);
        Assert.Empty(submit.FindProblems());
    }

    [Fact]
    public void A_missing_required_part_is_reported_by_validation_not_lost()
    {
        const string json = """{ "runId": "5b1f4c2e-9a7d-4e0b-8c63-2f0d9e1a7b44", "config": {} }""";

        var submit = JsonSerializer.Deserialize<SubmitRun>(json, Wire)!;

        Assert.Contains("dataset is required.", submit.FindProblems());
    }

    [Fact]
    public void An_unknown_enumeration_name_is_a_serialization_error()
    {
        const string json = """{ "runId": "5b1f4c2e-9a7d-4e0b-8c63-2f0d9e1a7b44", "dataset": { "prefix": "d/" }, "config": { "device": "tpu" } }""";

        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<SubmitRun>(json, Wire));
    }

    [Fact]
    public void Losses_of_a_diverged_training_survive_the_wire()
    {
        var diverged = SampleMessages.EpochCompleted(2) with
        {
            Epoch = SampleMessages.Epoch(2) with { TrainLoss = double.NaN, ValidationLoss = double.PositiveInfinity },
        };

        var json = ToJson(diverged);
        var back = JsonSerializer.Deserialize<TrainingEpochCompleted>(json, Wire)!;

        Assert.Contains("\"NaN\"", json);
        Assert.True(double.IsNaN(back.Epoch.TrainLoss));
        Assert.Equal(double.PositiveInfinity, back.Epoch.ValidationLoss);
        Assert.Equal(diverged.Epoch.ValidationAccuracy, back.Epoch.ValidationAccuracy);
    }

    [Fact]
    public void Band_statistics_keep_every_bit_of_their_float64_values()
    {
        var moments = new BandMoments(123_456_789, 4321,
            Enumerable.Range(0, BandMoments.Bands).Select(b => -42.123456789012345 + b / 3.0).ToArray(),
            Enumerable.Range(0, BandMoments.Bands).Select(b => 9.87654321e7 * (b + 1) / 7.0).ToArray());

        var back = JsonSerializer.Deserialize<BandMoments>(JsonSerializer.Serialize(moments, Wire), Wire)!;

        Assert.Equal(moments.Mean, back.Mean);
        Assert.Equal(moments.M2, back.M2);
        Assert.Equal((moments.Frames, moments.Clips), (back.Frames, back.Clips));
    }

    [Fact]
    public void A_run_status_serialises_for_the_runs_api()
    {
        var status = RunStatus.Submitted(SampleMessages.RunSubmitted)
            .ApplyAll([SampleMessages.ShardExtracted(0), SampleMessages.EpochCompleted(1)]);

        var json = JsonSerializer.Serialize(status, Wire);
        var back = JsonSerializer.Deserialize<RunStatus>(json, Wire)!;

        Assert.Equal(json, JsonSerializer.Serialize(back, Wire));
        using var document = JsonDocument.Parse(json);
        Assert.Equal("training", document.RootElement.GetProperty("stage").GetString());
        Assert.False(document.RootElement.GetProperty("training").TryGetProperty("epochsCompleted", out _));
    }

    private static IEnumerable<string> PropertyNames(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    yield return property.Name;
                    foreach (var nested in PropertyNames(property.Value)) yield return nested;
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var nested in PropertyNames(item)) yield return nested;
                }
                break;
        }
    }
}
