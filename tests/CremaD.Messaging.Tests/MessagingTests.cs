using System.Diagnostics;
using CremaD.Contracts;
using CremaD.LocalInfrastructure;
using CremaD.Telemetry;
using CremaD.Testing;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace CremaD.Messaging.Tests;

internal static class Messages
{
    public static FeaturesReady FeaturesReady(Guid runId) => new(
        runId, "features/abc/recipe-1/", "features/abc/recipe-1/normalisation.json", "abc", 9, 5, 2, 2, 1, 506, false,
        DateTimeOffset.UtcNow);

    public static CancelRun CancelRun(string reason) => new(Guid.NewGuid(), DateTimeOffset.UtcNow, reason);
}

/// <summary>AddCremaDMessaging against a real private RabbitMQ broker.</summary>
[Collection(RabbitMqFixture.CollectionName)]
public sealed class RabbitMqMessagingTests(RabbitMqFixture rabbit)
{
    /// <summary>What the CancelRun probe saw (<see cref="PublishCancelRunsAsync"/>).</summary>
    private readonly Inbox _probed = new();

    private async Task<TestApp> StartAsync(Inbox inbox, Action<IBusRegistrationConfigurator> consumers,
        Dictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        settings ??= [];
        settings["ConnectionStrings:messaging"] = rabbit.ConnectionString;
        var builder = TestApp.CreateBuilder(settings);
        builder.AddServiceDefaults();
        builder.Services.AddSingleton(inbox);
        builder.AddCremaDMessaging(consumers);
        configure?.Invoke(builder);
        var app = await TestApp.StartAsync(builder);
        // The bus connects in the background; /health turns Healthy once its endpoints are up.
        Assert.Equal((200, "Healthy"), await app.WaitForAsync("/health", 200));
        return app;
    }

    /// <summary>
    /// Starts a host with the CancelRun probe (its inbox <see cref="_probed"/>) and the given retry intervals, and publishes
    /// a CancelRun with each of <paramref name="reasons"/> (which tell the probe how to fail).
    /// </summary>
    private async Task<TestApp> PublishCancelRunsAsync(string[] retryIntervals, params string[] reasons)
    {
        var settings = retryIntervals.Select((interval, i) => KeyValuePair.Create($"Messaging:RetryIntervals:{i}", (string?)interval)).ToDictionary();
        var app = await StartAsync(_probed, bus => bus.AddConsumer<CancelRunProbeConsumer>(), settings);
        var bus = app.Services.GetRequiredService<IBus>();
        foreach (var reason in reasons) await bus.Publish(Messages.CancelRun(reason));
        return app;
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task A_consumer_receives_a_published_contract_over_the_broker_and_health_includes_the_bus()
    {
        var inbox = new Inbox();
        var spans = new List<Activity>();
        await using var app = await StartAsync(inbox, bus => bus.AddConsumer<FeaturesReadyProbeConsumer>(), configure: builder =>
            builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        var message = Messages.FeaturesReady(Guid.NewGuid());

        await app.Services.GetRequiredService<IBus>().Publish(message);

        var (received, correlationId) = await inbox.WaitAsync(message.RunId.ToString("D"));
        Assert.Equal(message, received);
        Assert.Equal(message.RunId, correlationId);

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var bus = report.Entries[MessagingExtensions.HealthCheckName];
        Assert.Equal(HealthStatus.Healthy, bus.Status);
        Assert.Contains(HealthCheckTags.Ready, bus.Tags);

        await using var queue = new QueueReader(rabbit.ConnectionString, "features-ready-probe");
        Assert.True(await queue.ExistsAsync(), "the consumer's queue is not named in kebab case");

        // MassTransit's consume span, under the trace its publish started.
        app.Services.GetRequiredService<TracerProvider>().ForceFlush();
        lock (spans)
        {
            // MassTransit tags its spans with the CorrelationId, which AddCremaDMessaging sets to the run id.
            var ofRun = spans.Where(s => s.Source.Name == CremaDTelemetry.MassTransitName
                && s.TagObjects.Any(t => t.Value?.ToString() == message.RunId.ToString("D"))).ToList();
            var producer = Assert.Single(ofRun, s => s.Kind == ActivityKind.Producer);
            // Receive and consume spans, in the trace the publish started.
            Assert.Contains(ofRun, s => s.Kind == ActivityKind.Consumer && s.TraceId == producer.TraceId);
        }
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task Transient_faults_are_retried_at_the_configured_intervals_then_go_to_the_error_queue()
    {
        var recovers = $"transient:2:{Guid.NewGuid():N}";
        var neverRecovers = $"transient:9:{Guid.NewGuid():N}";
        await using var app = await PublishCancelRunsAsync(["00:00:00.050", "00:00:00.100"], recovers, neverRecovers);

        await _probed.WaitAsync(recovers);
        Assert.Equal(3, _probed.Attempts(recovers));
        await using var errors = new QueueReader(rabbit.ConnectionString, QueueNames.ErrorQueue("cancel-run-probe"));
        var (_, headers) = await errors.WaitForAsync(neverRecovers);
        Assert.Equal(3, _probed.Attempts(neverRecovers));
        Assert.Equal("System.InvalidOperationException", headers["MT-Fault-ExceptionType"]);
        Assert.Equal("transient failure on attempt 3", headers["MT-Fault-Message"]);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task Validation_errors_are_not_retried_but_go_straight_to_the_error_queue()
    {
        var invalid = $"invalid:{Guid.NewGuid():N}";
        var argument = $"argument:{Guid.NewGuid():N}";
        await using var app = await PublishCancelRunsAsync(["00:00:00.050", "00:00:00.050"], invalid, argument);

        await using var errors = new QueueReader(rabbit.ConnectionString, QueueNames.ErrorQueue("cancel-run-probe"));
        var (_, invalidHeaders) = await errors.WaitForAsync(invalid);
        var (_, argumentHeaders) = await errors.WaitForAsync(argument);
        Assert.Equal(1, _probed.Attempts(invalid));
        Assert.Equal(1, _probed.Attempts(argument));
        Assert.Equal(typeof(InvalidMessageException).FullName, invalidHeaders["MT-Fault-ExceptionType"]);
        Assert.EndsWith("is invalid: the run does not exist", invalidHeaders["MT-Fault-Message"]);
        Assert.Equal(typeof(ArgumentOutOfRangeException).FullName, argumentHeaders["MT-Fault-ExceptionType"]);
    }

    [RequiresInfrastructureFact(Infrastructure.RabbitMq)]
    public async Task An_invalid_run_message_is_refused_when_published_and_when_received()
    {
        var inbox = new Inbox();
        await using var app = await StartAsync(inbox, bus => bus.AddConsumer<CancelRunProbeConsumer>());
        var marker = $"no-run-id:{Guid.NewGuid():N}";
        var invalid = Messages.CancelRun(marker) with { RunId = Guid.Empty };

        // Our own host will not put it on the wire...
        var refused = await Assert.ThrowsAsync<InvalidMessageException>(() => app.Services.GetRequiredService<IBus>().Publish(invalid));
        Assert.Equal(["runId must not be empty."], refused.Problems);

        // ...and one that arrives from a publisher without the check never reaches the consumer.
        var plain = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(new Uri(rabbit.ConnectionString)));
        using (var start = new CancellationTokenSource(TestApp.Timeout)) await plain.StartAsync(start.Token);
        try
        {
            await plain.Publish(invalid);
        }
        finally
        {
            await plain.StopAsync();
        }
        await using var errors = new QueueReader(rabbit.ConnectionString, QueueNames.ErrorQueue("cancel-run-probe"));
        var (_, headers) = await errors.WaitForAsync(marker);
        Assert.Equal(typeof(InvalidMessageException).FullName, headers["MT-Fault-ExceptionType"]);
        Assert.Equal(0, inbox.Attempts(marker));
    }
}

/// <summary>AddCremaDMessaging without a broker: the in-memory transport and the configuration errors.</summary>
public sealed class MessagingConfigurationTests
{
    [Fact]
    public async Task Without_a_connection_string_the_in_memory_transport_serves_embedded_runs()
    {
        var inbox = new Inbox();
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["Messaging:Transport"] = "InMemory" });
        builder.AddServiceDefaults();
        builder.Services.AddSingleton(inbox);
        builder.AddCremaDMessaging(bus => bus.AddConsumer<FeaturesReadyProbeConsumer>());
        await using var app = await TestApp.StartAsync(builder);
        Assert.Equal((200, "Healthy"), await app.WaitForAsync("/health", 200));
        var message = Messages.FeaturesReady(Guid.NewGuid());

        await app.Services.GetRequiredService<IBus>().Publish(message);

        var (received, correlationId) = await inbox.WaitAsync(message.RunId.ToString("D"));
        Assert.Equal(message, received);
        Assert.Equal(message.RunId, correlationId);
        Assert.Equal(MessagingTransport.InMemory, app.Services.GetRequiredService<CremaDMessagingOptions>().Transport);
        // No report of this service goes to MassTransit's vendor.
        Assert.False(app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }

    [Fact]
    public void A_missing_connection_string_is_named_with_the_way_out()
    {
        var builder = TestApp.CreateBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDMessaging(_ => { }));

        Assert.Contains("'ConnectionStrings:messaging'", error.Message);
        Assert.Contains("ConnectionStrings__messaging", error.Message);
        Assert.Contains("amqp://<user>:<password>@<host>:<port>", error.Message);
        Assert.Contains("'Messaging:Transport' to 'InMemory'", error.Message);
    }

    [Theory]
    [InlineData("http://guest:s3cret@127.0.0.1:5672", "has the scheme 'http'")]
    [InlineData("guest:s3cret@localhost", "is not a broker URI")]
    public void A_malformed_connection_string_is_named_without_its_password(string value, string expected)
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?> { ["ConnectionStrings:bus"] = value });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDMessaging(_ => { }, connectionName: "bus"));

        Assert.Contains("'ConnectionStrings:bus'", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("s3cret", error.Message);
    }

    [Fact]
    public void A_malformed_retry_interval_is_named()
    {
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "InMemory",
            ["Messaging:RetryIntervals:0"] = "5 seconds",
        });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddCremaDMessaging(_ => { }));

        Assert.Equal("Configuration 'Messaging:RetryIntervals:0' is '5 seconds'; expected a non-negative time span such as 00:00:05.", error.Message);
    }

    [Fact]
    public async Task An_unreachable_broker_makes_the_service_unready_but_alive()
    {
        var closedPort = FreePorts.AllocateOne();
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?>
        {
            ["ConnectionStrings:messaging"] = $"amqp://guest:guest@127.0.0.1:{closedPort}",
        });
        builder.AddServiceDefaults();
        builder.Services.AddSingleton(new Inbox());
        builder.AddCremaDMessaging(bus => bus.AddConsumer<FeaturesReadyProbeConsumer>());

        // Starting does not wait for the broker.
        await using var app = await TestApp.StartAsync(builder);

        Assert.Equal((503, "Unhealthy"), await app.GetAsync("/health"));
        Assert.Equal((200, "Healthy"), await app.GetAsync("/alive"));
    }
}
