namespace CremaD.Evaluation.Tests;

/// <summary>Small fixed predictions whose metrics are worked out by hand in the tests.</summary>
internal static class TestData
{
    /// <summary>
    /// Four classes: "fear" (2) is never predicted, "happy" (3) never occurs but is predicted once.
    /// Confusion matrix (rows true, columns predicted):
    ///   anger   [3 1 0 0]  support 4
    ///   disgust [0 2 0 1]  support 3
    ///   fear    [2 1 0 0]  support 3
    ///   happy   [0 0 0 0]  support 0
    /// column sums 5 4 0 1; 5 of 10 correct.
    /// </summary>
    public static readonly string[] Names = ["anger", "disgust", "fear", "happy"];

    public static readonly int[] YTrue = [0, 0, 0, 1, 1, 2, 2, 2, 0, 1];

    public static readonly int[] YPred = [0, 1, 0, 1, 3, 0, 1, 0, 0, 1];

    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "cremad-eval-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static string FixturePath(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);
}
