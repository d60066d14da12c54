using CremaD.AppHost.Infrastructure;

namespace CremaD.AppHost.Tests;

public sealed class InfrastructureSelectorTests
{
    private static readonly HashSet<string> None = [];
    private static readonly MachineInfrastructure Bare = new(null, false, false, "/usr/lib/rabbitmq/bin/rabbitmq-server", "/repo/node_modules/.bin/azurite");

    [Fact]
    public void Connection_strings_in_configuration_come_first()
    {
        var configured = new HashSet<string> { "messaging", "blobs" };
        var plan = InfrastructureSelector.Choose(AppHostMode.Auto, configured, Bare with { ContainerRuntime = "/usr/bin/docker", RabbitMqServerInstalled = true, AzuriteInstalled = true });

        Assert.False(plan.Embedded);
        Assert.Equal(InfrastructureSource.Configuration, plan.Messaging);
        Assert.Equal(InfrastructureSource.Configuration, plan.Blobs);
        Assert.Contains(plan.Reasons, r => r.Contains("ConnectionStrings:messaging is set", StringComparison.Ordinal));
    }

    [Fact]
    public void A_container_runtime_comes_before_local_binaries()
    {
        var plan = InfrastructureSelector.Choose(AppHostMode.Auto, None,
            Bare with { ContainerRuntime = "/usr/bin/podman", RabbitMqServerInstalled = true, AzuriteInstalled = true });

        Assert.Equal(InfrastructureSource.Container, plan.Messaging);
        Assert.Equal(InfrastructureSource.Container, plan.Blobs);
    }

    [Fact]
    public void Local_binaries_when_there_is_no_container_runtime()
    {
        var plan = InfrastructureSelector.Choose(AppHostMode.Auto, None, Bare with { RabbitMqServerInstalled = true, AzuriteInstalled = true });

        Assert.False(plan.Embedded);
        Assert.Equal(InfrastructureSource.LocalBinary, plan.Messaging);
        Assert.Equal(InfrastructureSource.LocalBinary, plan.Blobs);
        Assert.StartsWith("distributed mode", plan.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Mixed_sources_are_allowed_per_resource()
    {
        var configured = new HashSet<string> { "blobs" };
        var plan = InfrastructureSelector.Choose(AppHostMode.Auto, configured, Bare with { RabbitMqServerInstalled = true });

        Assert.Equal(InfrastructureSource.LocalBinary, plan.Messaging);
        Assert.Equal(InfrastructureSource.Configuration, plan.Blobs);
    }

    [Fact]
    public void Embedded_when_nothing_provides_a_broker_and_it_says_why()
    {
        var plan = InfrastructureSelector.Choose(AppHostMode.Auto, None, Bare with { AzuriteInstalled = true });

        Assert.True(plan.Embedded);
        Assert.Equal(InfrastructureSource.Embedded, plan.Messaging);
        Assert.Equal(InfrastructureSource.Embedded, plan.Blobs);
        Assert.Contains(plan.Reasons, r => r.Contains("rabbitmq-server", StringComparison.Ordinal) && r.Contains("not installed", StringComparison.Ordinal));
        Assert.Contains(plan.Reasons, r => r.Contains("embedded mode", StringComparison.Ordinal));
    }

    [Fact]
    public void Embedded_mode_keeps_configured_blob_storage()
    {
        var configured = new HashSet<string> { "blobs" };
        var plan = InfrastructureSelector.Choose(AppHostMode.Embedded, configured, Bare with { RabbitMqServerInstalled = true, AzuriteInstalled = true });

        Assert.True(plan.Embedded);
        Assert.Equal(InfrastructureSource.Configuration, plan.Blobs);
    }

    [Fact]
    public void Forced_distributed_mode_without_a_broker_fails_with_the_install_commands()
    {
        var error = Assert.Throws<InvalidOperationException>(() => InfrastructureSelector.Choose(AppHostMode.Distributed, None, Bare with { AzuriteInstalled = true }));

        Assert.Contains("the broker", error.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y rabbitmq-server", error.Message, StringComparison.Ordinal);
    }
}
