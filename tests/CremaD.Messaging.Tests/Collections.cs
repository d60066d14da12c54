using CremaD.Testing;

namespace CremaD.Messaging.Tests;

[CollectionDefinition(RabbitMqFixture.CollectionName)]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMqFixture>;
