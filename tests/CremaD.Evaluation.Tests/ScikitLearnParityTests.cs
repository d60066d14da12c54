using System.Text.Json;

namespace CremaD.Evaluation.Tests;

/// <summary>
/// The report must be byte-for-byte what <c>json.dump(classification_report(..., output_dict=True), f, indent=2)</c>
/// wrote (Fixtures/sklearn/generate.py, scikit-learn 1.2.1), including the last bit of every float.
/// </summary>
public class ScikitLearnParityTests
{
    [Theory]
    [InlineData("edge")]
    [InlineData("emotions")]
    [InlineData("perfect")]
    [InlineData("one_class_predicted")]
    [InlineData("ten_classes")]   // 8-accumulator pairwise summation in the averages
    [InlineData("many_classes")]  // 300 classes: recursive pairwise summation
    public void Report_json_is_identical_to_scikit_learns(string caseName)
    {
        using var input = JsonDocument.Parse(File.ReadAllText(TestData.FixturePath("sklearn", $"case_{caseName}.input.json")));
        var names = input.RootElement.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var yTrue = input.RootElement.GetProperty("y_true").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var yPred = input.RootElement.GetProperty("y_pred").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = File.ReadAllText(TestData.FixturePath("sklearn", $"case_{caseName}.report.json"));

        var actual = ClassificationReport.Compute(yTrue, yPred, names).ToJson();

        Assert.Equal(expected, actual);
    }
}
