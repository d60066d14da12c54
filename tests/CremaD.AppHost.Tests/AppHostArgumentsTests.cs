using CremaD.AppHost.Infrastructure;
using CremaD.AppHost.Supervision;
using CremaD.Contracts;

namespace CremaD.AppHost.Tests;

public sealed class AppHostArgumentsTests
{
    [Fact]
    public void Our_switches_are_taken_out_and_the_rest_is_left_for_Aspire()
    {
        var data = Directory.CreateTempSubdirectory("My Data_");
        try
        {
            var parsed = AppHostArguments.Parse(["--mode", "embedded", "--epochs", "3", "--exit-when-done", "--publisher", "manifest",
                "--data-root", data.FullName, "--loop", "reference", "--feature-replicas", "3", "--trainer-replicas", "2", "--output-path", "m.json", "--no-demo"]);

            Assert.Equal(AppHostMode.Embedded, parsed.Mode);
            Assert.Equal(3, parsed.Epochs);
            Assert.True(parsed.ExitWhenDone);
            Assert.True(parsed.NoDemo);
            Assert.Equal(RunTrainingLoop.Reference, parsed.Loop);
            Assert.Equal(3, parsed.FeatureReplicas);
            Assert.Equal(2, parsed.TrainerReplicas);
            Assert.Equal(data.FullName, parsed.DataRoot);
            Assert.StartsWith("my-data", parsed.DatasetName, StringComparison.Ordinal);
            Assert.Equal(["--publisher", "manifest", "--output-path", "m.json"], parsed.Remaining);
        }
        finally
        {
            data.Delete();
        }
    }

    [Fact]
    public void Defaults_are_the_demo_two_feature_services_and_artifacts_in_the_repository()
    {
        var parsed = AppHostArguments.Parse([]);

        Assert.Equal((AppHostMode.Auto, false, false, 2, "demo"), (parsed.Mode, parsed.NoDemo, parsed.ExitWhenDone, parsed.FeatureReplicas, parsed.DatasetName));
        Assert.Null(parsed.Epochs);
        Assert.Equal(1, parsed.TrainerReplicas);
        Assert.Equal(Path.Combine(InfrastructureResourceExtensions.RepositoryRoot, "artifacts"), parsed.ArtifactsDirectory);
        Assert.True(File.Exists(Path.Combine(InfrastructureResourceExtensions.RepositoryRoot, "CremaD.sln")));
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs must be a whole number of at least 1, got '0'.")]
    [InlineData("--epochs", "many", "--epochs must be a whole number of at least 1, got 'many'.")]
    [InlineData("--mode", "cluster", "--mode must be auto, distributed or embedded, got 'cluster'.")]
    [InlineData("--loop", "slow", "--loop must be fast or reference, got 'slow'.")]
    [InlineData("--feature-replicas", "-1", "--feature-replicas must be a whole number of at least 1, got '-1'.")]
    [InlineData("--trainer-replicas", "0", "--trainer-replicas must be a whole number of at least 1, got '0'.")]
    public void Bad_values_are_refused_with_the_switch_and_the_value(string name, string value, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => AppHostArguments.Parse([name, value])).Message);

    [Fact]
    public void A_missing_value_or_data_root_is_refused()
    {
        Assert.Equal("--epochs needs a value.", Assert.Throws<ArgumentException>(() => AppHostArguments.Parse(["--epochs"])).Message);
        Assert.Contains("is not a folder", Assert.Throws<ArgumentException>(() => AppHostArguments.Parse(["--data-root", "/no/such/folder"])).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Restarts_back_off_1_2_4_up_to_30_seconds()
    {
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(1, 7).Select(n => RestartSupervisor.DelayBefore(n).TotalSeconds));
    }
}
