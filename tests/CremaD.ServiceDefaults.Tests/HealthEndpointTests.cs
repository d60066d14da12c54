using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using CremaD.Telemetry;
using CremaD.Testing;

namespace CremaD.ServiceDefaults.Tests;

public sealed class HealthEndpointTests
{
    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task Health_and_alive_answer_healthy_in_every_environment(string environment)
    {
        var builder = TestApp.CreateBuilder(environment: environment);
        builder.AddServiceDefaults();
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((200, "Healthy"), await app.GetAsync("/health"));
        Assert.Equal((200, "Healthy"), await app.GetAsync("/alive"));
    }

    [Fact]
    public async Task A_failing_dependency_fails_health_but_not_alive()
    {
        var builder = TestApp.CreateBuilder();
        builder.AddServiceDefaults();
        builder.Services.AddHealthChecks().AddCheck("broker", () => HealthCheckResult.Unhealthy("down"), [HealthCheckTags.Ready]);
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((503, "Unhealthy"), await app.GetAsync("/health"));
        Assert.Equal((200, "Healthy"), await app.GetAsync("/alive"));
    }

    [Fact]
    public async Task The_self_check_is_the_live_check()
    {
        var builder = TestApp.CreateBuilder();
        builder.AddServiceDefaults();
        await using var app = await TestApp.StartAsync(builder);

        var report = await app.Services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(registration => registration.Tags.Contains(HealthCheckTags.Live));

        var self = Assert.Single(report.Entries);
        Assert.Equal("self", self.Key);
        Assert.Equal(HealthStatus.Healthy, self.Value.Status);
    }
}
