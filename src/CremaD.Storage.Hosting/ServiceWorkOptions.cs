namespace CremaD.Storage.Hosting;

/// <summary>Where a service keeps local scratch files (dataset skeletons, staged feature stores, model directories).</summary>
public sealed record ServiceWorkOptions(string WorkDirectory)
{
    /// <summary>Configuration key of <see cref="WorkDirectory"/> (environment <c>CremaD__WorkDirectory</c>).</summary>
    public const string ConfigurationKey = "CremaD:WorkDirectory";
}
