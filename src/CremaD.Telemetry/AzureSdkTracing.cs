namespace CremaD.Telemetry;

/// <summary>
/// Switches on the Azure SDK's <see cref="System.Diagnostics.ActivitySource"/>s (named "Azure.*", for example
/// "Azure.Storage.Blobs.BlobBaseClient"), so that OpenTelemetry tracing that adds the source
/// <see cref="ActivitySourceNamePattern"/> records every storage request as a span under the pipeline stage
/// that made it. Without the switch the SDK only writes DiagnosticSource events, which OpenTelemetry ignores.
/// CremaD.Storage's BlobStoreFactory and AzureBlobStore call <see cref="Enable"/> before they create
/// any SDK client, because Azure.Core reads the switch once, on its first traced call; a service host may call
/// it itself at start-up, before anything else touches the SDK.
/// </summary>
public static class AzureSdkTracing
{
    /// <summary>The AppContext switch Azure.Core reads (equivalent: AZURE_EXPERIMENTAL_ENABLE_ACTIVITY_SOURCE=true).</summary>
    public const string ActivitySourceSwitch = "Azure.Experimental.EnableActivitySource";

    /// <summary>Pass to OpenTelemetry's AddSource to collect the Azure SDK's spans.</summary>
    public const string ActivitySourceNamePattern = "Azure.*";

    public static void Enable() => AppContext.SetSwitch(ActivitySourceSwitch, true);
}
