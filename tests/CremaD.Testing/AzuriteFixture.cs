using CremaD.LocalInfrastructure;

namespace CremaD.Testing;

/// <summary>One private Azurite shared by a test collection.</summary>
public sealed class AzuriteFixture() : InfrastructureFixture<AzuriteInstance>("Azurite", Infrastructure.Azurite, () => AzuriteInstance.StartAsync())
{
    public const string CollectionName = "Azurite";

    /// <summary>The Aspire-style blob connection string.</summary>
    public string ConnectionString => Instance.ConnectionString;
}
