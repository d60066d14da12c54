using CremaD.LocalInfrastructure;
using CremaD.Testing;

namespace CremaD.Storage.Tests;

[CollectionDefinition(AzuriteFixture.CollectionName)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;

[CollectionDefinition(RabbitMqFixture.CollectionName)]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMqFixture>;
