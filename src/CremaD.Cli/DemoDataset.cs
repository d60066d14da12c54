namespace CremaD.Cli;

/// <summary>
/// The built-in demo dataset (samples/demo, course layout). The build copies it next to the tool as demo/, so an
/// installed or published cremad finds it beside itself; in a source checkout samples/demo is found as well.
/// </summary>
public static class DemoDataset
{
    public const string EnvironmentVariable = "CREMAD_DEMO_DATA";

    public static string Locate()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } configured) candidates.Add(configured);
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "demo"));
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "samples", "demo"));
        }
        foreach (var candidate in candidates)
        {
            if (File.Exists(Path.Combine(candidate, "labels.csv"))) return Path.GetFullPath(candidate);
        }
        throw new CliException(
            $"the built-in demo dataset was not found (looked in {string.Join(", ", candidates.Take(3))}, and samples/demo above the current folder); " +
            $"pass --data-root or set {EnvironmentVariable}");
    }
}
