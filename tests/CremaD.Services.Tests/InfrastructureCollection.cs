using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>
/// The tests that need the private RabbitMQ and Azurite, and those that train in this process: one at a time, as
/// trainings must not share the process (see <see cref="TrainingRetryTests"/>).
/// </summary>
[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<RabbitMqFixture>, ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Real RabbitMQ and Azurite";
}
