using CremaD.Contracts;

namespace CremaD.DemoRun;

/// <summary>What the demo run does, from configuration section <c>Demo</c> (the AppHost sets <c>Demo__*</c>).</summary>
public sealed class DemoRunOptions
{
    public const string SectionName = "Demo";

    /// <summary>Base address of the runs API (the AppHost passes its endpoint).</summary>
    public Uri? RunsApi { get; set; }

    /// <summary>The runs API's key (the AppHost passes its runs-api-key parameter).</summary>
    public string? RunsApiKey { get; set; }

    /// <summary>The local dataset folder to upload (course or official layout).</summary>
    public string? DataRoot { get; set; }

    /// <summary>The dataset's name in storage (<c>datasets/&lt;name&gt;/</c>).</summary>
    public string DatasetName { get; set; } = "demo";

    /// <summary>Upload again even when the dataset is already in storage (a user's dataset may have changed).</summary>
    public bool ForceUpload { get; set; }

    /// <summary>Maximum epochs; null keeps the recipe's default.</summary>
    public int? Epochs { get; set; }

    public RunTrainingLoop? Loop { get; set; }

    /// <summary>Where the finished run's artefacts go: <c>&lt;ArtifactsDirectory&gt;/&lt;run-id&gt;/</c>.</summary>
    public string ArtifactsDirectory { get; set; } = "artifacts";

    /// <summary>How often the run's status is read.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
}
