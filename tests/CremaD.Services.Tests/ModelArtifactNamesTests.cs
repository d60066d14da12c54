using CremaD.Contracts;
using CremaD.Learning;

namespace CremaD.Services.Tests;

public sealed class ModelArtifactNamesTests
{
    /// <summary>Contracts lists the model files by name (it cannot reference CremaD.Learning); they must be the files training writes.</summary>
    [Fact]
    public void The_model_artifacts_a_run_lists_are_the_files_training_writes() =>
        Assert.Equal([ModelFiles.BestModel, ModelFiles.Manifest], BlobLayout.ModelArtifactFiles);
}
