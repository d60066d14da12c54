using System.Globalization;
using System.Text;
using CremaD.LocalInfrastructure;

namespace CremaD.Services.Tests;

/// <summary>Small course-layout datasets cut from samples/demo, written into a local folder.</summary>
internal static class TestDatasets
{
    public static string DemoDirectory => Path.Combine(RepositoryRoot.Find(), "samples", "demo");

    public static string BadAudioDirectory => Path.Combine(RepositoryRoot.Find(), "tests", "fixtures", "bad-audio");

    /// <summary>
    /// Writes <paramref name="train"/>, <paramref name="validation"/> and <paramref name="test"/> clips of the demo dataset,
    /// spread over the classes, with their labels.csv into <paramref name="directory"/>; with <paramref name="brokenClip"/>,
    /// also a train row pointing at a file that is not audio. Returns the relative paths of the clips, in labels.csv order.
    /// </summary>
    public static IReadOnlyList<string> WriteDemoSubset(string directory, int train, int validation, int test, bool brokenClip = false)
    {
        var rows = File.ReadAllLines(Path.Combine(DemoDirectory, "labels.csv")).Skip(1)
            .Where(line => line.Length > 0)
            .Select(line => line.Split(','))
            .ToList();
        var wanted = new Dictionary<string, int>(StringComparer.Ordinal) { ["train"] = train, ["validation"] = validation, ["test"] = test };
        // Round-robin over the classes within each partition, so that even a few clips cover every class.
        var chosen = rows.GroupBy(row => row[2])
            .SelectMany(partition => partition.GroupBy(row => row[1])
                .SelectMany(byClass => byClass.Select((row, rank) => (row, rank)))
                .OrderBy(x => x.rank).ThenBy(x => x.row[1], StringComparer.Ordinal)
                .Take(wanted.GetValueOrDefault(partition.Key))
                .Select(x => x.row))
            .ToHashSet();
        var labels = new StringBuilder("path,class,partition\n");
        var paths = new List<string>();
        foreach (var row in rows.Where(chosen.Contains))
        {
            var target = Path.Combine(directory, row[0]);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(DemoDirectory, row[0]), target, overwrite: true);
            labels.Append(CultureInfo.InvariantCulture, $"{row[0]},{row[1]},{row[2]}\n");
            paths.Add(row[0]);
        }
        if (brokenClip)
        {
            const string broken = "train/1001_DFA_ANG_XX.wav";
            File.Copy(Path.Combine(BadAudioDirectory, "garbage.wav"), Path.Combine(directory, broken), overwrite: true);
            labels.Append(CultureInfo.InvariantCulture, $"{broken},0,train\n");
            paths.Add(broken);
        }
        File.WriteAllText(Path.Combine(directory, "labels.csv"), labels.ToString());
        return paths;
    }
}
