using System.Text;

namespace CremaD.Datasets;

/// <summary>Writes a dataset as a course-layout <c>labels.csv</c> (<c>path,class,partition</c>, class as an integer).</summary>
public static class LabelsCsv
{
    /// <summary>
    /// Writes <paramref name="dataset"/> to <paramref name="path"/>. Paths in the file are relative to the file's
    /// own folder (as <see cref="DatasetReader"/> resolves them), so written into the data root it makes that
    /// root a course-layout dataset; written elsewhere it is read back with <see cref="DatasetOptions.LabelsPath"/>.
    /// </summary>
    public static void Write(Dataset dataset, string path)
    {
        path = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(folder);
        var text = new StringBuilder("path,class,partition\n");
        foreach (var clip in dataset.Clips)
        {
            var relative = Path.GetRelativePath(folder, dataset.FullPath(clip)).Replace('\\', '/');
            text.Append(Csv.Escape(relative)).Append(',')
                .Append(clip.Label.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(',')
                .Append(clip.Partition.ToName()).Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
