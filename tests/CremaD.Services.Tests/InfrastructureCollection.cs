using CremaD.Testing;

namespace CremaD.Services.Tests;

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<RabbitMqFixture>, ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Real RabbitMQ and Azurite";
}
