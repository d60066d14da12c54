namespace CremaD.Services.Tests;

/// <summary>The four services, each named by what it is; a test names the instances it starts ("features-2", "trainer-1").</summary>
internal enum TestService
{
    RunsApi,
    Features,
    Trainer,
    Evaluation,
}
