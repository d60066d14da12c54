using CremaD.Storage.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

/// <summary>The local work folder of a service host.</summary>
public static class ServiceWorkExtensions
{
    /// <summary>
    /// <see cref="ServiceWorkOptions"/> from <c>CremaD:WorkDirectory</c>, by default a folder of the application's name
    /// under the temporary directory.
    /// </summary>
    public static TBuilder AddCremaDWork<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var directory = builder.Configuration[ServiceWorkOptions.ConfigurationKey];
        if (string.IsNullOrWhiteSpace(directory))
        {
            directory = Path.Combine(Path.GetTempPath(), "cremad-work", builder.Environment.ApplicationName);
        }
        builder.Services.TryAddSingleton(new ServiceWorkOptions(Path.GetFullPath(directory)));
        return builder;
    }
}
