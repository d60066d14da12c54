using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using CremaD.Testing;

namespace CremaD.ServiceDefaults.Tests;

/// <summary>HttpClients from IHttpClientFactory resolve Aspire service names and retry transient failures.</summary>
public sealed class ServiceDiscoveryTests
{
    [Fact]
    public async Task A_client_reaches_a_service_by_name_and_rides_out_a_transient_failure()
    {
        var calls = new ConcurrentDictionary<string, int>();
        var serverBuilder = TestApp.CreateBuilder();
        serverBuilder.AddServiceDefaults();
        await using var server = await TestApp.StartAsync(serverBuilder, web =>
        {
            web.MapGet("/ping", () => "pong");
            // Fails the first call for each id with 503, as a service that is restarting would.
            web.MapGet("/flaky/{id}", (string id) =>
                calls.AddOrUpdate(id, 1, (_, n) => n + 1) == 1 ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable) : Results.Text("recovered"));
        });

        // A worker-style host (no web server): the defaults apply to any IHostApplicationBuilder.
        var clientBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        clientBuilder.Configuration[Extensions.OtlpEndpointSetting] = "";
        // What the AppHost injects as services__runs-api__http__0.
        clientBuilder.Configuration["services:runs-api:http:0"] = server.Address.ToString().TrimEnd('/');
        clientBuilder.AddServiceDefaults();
        clientBuilder.Services.AddHttpClient("runs", client => client.BaseAddress = new Uri("https+http://runs-api"));
        using var client = clientBuilder.Build();
        var http = client.Services.GetRequiredService<IHttpClientFactory>().CreateClient("runs");

        Assert.Equal("pong", await http.GetStringAsync("/ping"));
        var id = Guid.NewGuid().ToString("N");
        Assert.Equal("recovered", await http.GetStringAsync($"/flaky/{id}"));
        Assert.Equal(2, calls[id]);
    }
}
