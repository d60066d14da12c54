namespace CremaD.Datasets;

/// <summary>
/// Reads a CREMA-D dataset in either layout (see <see cref="DatasetLayout"/>). Only file names and labels
/// are read here, never audio; every listed file must exist.
/// </summary>
public static class DatasetReader
{
    public const string LabelsFileName = "labels.csv";
    public const string AudioFolderName = "AudioWAV";

    private static readonly string[] PathColumns = ["path", "file", "filename"];
    private static readonly string[] ClassColumns = ["class", "label"];
    private static readonly string[] PartitionColumns = ["partition", "split"];

    public static Dataset Open(string root, DatasetOptions? options = null)
    {
        options ??= DatasetOptions.Default;
        var files = options.Files;
        root = Path.GetFullPath(root);
        if (!files.DirectoryExists(root))
        {
            throw new DatasetFormatException(root, null, files.FileExists(root) ? "the data root is a file, not a folder" : "the data root does not exist");
        }

        var labelsPath = options.LabelsPath is { } given ? Path.GetFullPath(given) : Path.Combine(root, LabelsFileName);
        var audioFolder = Path.Combine(root, AudioFolderName);
        var layout = options.Layout ?? DetectLayout(root, options, labelsPath, audioFolder);
        var dataset = layout switch
        {
            DatasetLayout.Course => ReadCourse(root, labelsPath, files),
            DatasetLayout.Official => ReadOfficial(root, files.DirectoryExists(audioFolder) ? audioFolder : root, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), layout, "unknown layout"),
        };
        // The partitions stay the layout's (labels.csv, or the actor split): only the labels change.
        if (options.LabelsFrom == LabelSource.Perceived) dataset = PerceivedEmotions.Relabel(dataset);
        // A cross-validation fold regroups the clips by speaker, whatever the layout's partitions were.
        return options.Fold is { } fold ? ActorFolds.Apply(dataset, fold) : dataset;
    }

    private static DatasetLayout DetectLayout(string root, DatasetOptions options, string labelsPath, string audioFolder)
    {
        var files = options.Files;
        if (options.LabelsPath is not null || files.FileExists(labelsPath)) return DatasetLayout.Course;
        if (files.DirectoryExists(audioFolder)) return DatasetLayout.Official;
        // The AudioWAV folder itself given as the root.
        if (files.EnumerateWavFiles(root).Any())
        {
            return DatasetLayout.Official;
        }
        throw new DatasetFormatException(root, null,
            $"not a CREMA-D dataset: found neither {LabelsFileName} (course layout) nor {AudioFolderName}/*.wav (official layout)");
    }

    /// <summary>Reads a course-layout labels file; paths in it are relative to the file's folder and must lie under <paramref name="root"/>.</summary>
    public static Dataset ReadCourse(string root, string labelsPath, IDatasetFiles? files = null)
    {
        files ??= LocalDatasetFiles.Instance;
        root = Path.GetFullPath(root);
        labelsPath = Path.GetFullPath(labelsPath);
        if (!files.FileExists(labelsPath)) throw new DatasetFormatException(labelsPath, null, "labels file not found");
        var records = Csv.Parse(files.ReadText(labelsPath), labelsPath).Where(r => !r.IsBlank).ToList();
        if (records.Count == 0) throw new DatasetFormatException(labelsPath, null, "empty file: expected a header path,class,partition");

        var header = records[0];
        int Column(string[] names)
        {
            for (var i = 0; i < header.Fields.Count; i++)
            {
                if (names.Contains(header.Fields[i].ToLowerInvariant())) return i;
            }
            throw new DatasetFormatException(labelsPath, header.LineNumber,
                $"missing column '{names[0]}' (header: {string.Join(",", header.Fields)}; expected path,class,partition)");
        }
        var pathColumn = Column(PathColumns);
        var classColumn = Column(ClassColumns);
        var partitionColumn = Column(PartitionColumns);
        var actorColumn = header.Fields.ToList().FindIndex(f => f.Equals("actor", StringComparison.OrdinalIgnoreCase));
        if (records.Count == 1) throw new DatasetFormatException(labelsPath, header.LineNumber, "no clips: the file has a header only");

        var labelsFolder = Path.GetDirectoryName(labelsPath)!;
        var rows = new List<(string RelativePath, int Label, Partition Partition, string? Actor)>(records.Count - 1);
        var firstLineOfPath = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var record in records.Skip(1))
        {
            var line = record.LineNumber;
            if (record.Fields.Count != header.Fields.Count)
            {
                throw new DatasetFormatException(labelsPath, line, $"expected {header.Fields.Count} fields, found {record.Fields.Count}");
            }
            var pathText = record.Fields[pathColumn].Replace('\\', '/');
            if (pathText.Length == 0) throw new DatasetFormatException(labelsPath, line, "empty path");
            var fullPath = Path.GetFullPath(Path.Combine(labelsFolder, pathText));
            var relative = Path.GetRelativePath(root, fullPath).Replace('\\', '/');
            if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative))
            {
                throw new DatasetFormatException(labelsPath, line, $"path '{pathText}' is outside the data root {root}");
            }
            if (firstLineOfPath.TryGetValue(relative, out var firstLine))
            {
                throw new DatasetFormatException(labelsPath, line, $"duplicate path '{pathText}' (first listed on line {firstLine})");
            }
            firstLineOfPath[relative] = line;

            var label = ParseClass(record.Fields[classColumn]);
            if (label < 0)
            {
                throw new DatasetFormatException(labelsPath, line,
                    $"bad class '{record.Fields[classColumn]}': expected 0..{Emotions.Count - 1} or one of {string.Join(", ", Emotions.Codes)}");
            }
            if (!PartitionNames.TryParse(record.Fields[partitionColumn], out var partition))
            {
                throw new DatasetFormatException(labelsPath, line,
                    $"unknown partition '{record.Fields[partitionColumn]}': expected train, validation or test");
            }
            if (!files.FileExists(fullPath)) throw new DatasetFormatException(labelsPath, line, $"file not found: {pathText}");

            var actor = actorColumn >= 0 && record.Fields[actorColumn].Length > 0 ? record.Fields[actorColumn] : CremaDFileName.ActorOf(relative);
            rows.Add((relative, label, partition, actor));
        }
        return new Dataset(root, DatasetLayout.Course, AssignIds(rows)) { LabelsPath = labelsPath };
    }

    /// <summary>Class id from an integer, an emotion code (ANG) or an emotion name (anger), or -1.</summary>
    public static int ParseClass(string text)
    {
        text = text.Trim();
        if (int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            return id >= 0 && id < Emotions.Count ? id : -1;
        }
        var byCode = Emotions.IndexOf(text);
        if (byCode >= 0) return byCode;
        for (var i = 0; i < Emotions.Names.Count; i++)
        {
            if (string.Equals(Emotions.Names[i], text, StringComparison.OrdinalIgnoreCase)) return i;
        }
        return -1;
    }

    private static Dataset ReadOfficial(string root, string audioFolder, DatasetOptions options)
    {
        var files = options.Files.EnumerateWavFiles(audioFolder)
            .Order(StringComparer.Ordinal)
            .ToList();
        var parsed = new List<(string RelativePath, CremaDFileName Name)>(files.Count);
        var rejected = new List<RejectedFile>();
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (CremaDFileName.TryParse(file, out var name, out var reason)) parsed.Add((relative, name!));
            else rejected.Add(new RejectedFile(relative, reason));
        }
        if (parsed.Count == 0)
        {
            throw new DatasetFormatException(audioFolder, null,
                files.Count == 0 ? "no .wav files" : $"none of the {files.Count} .wav files is named like 1001_DFA_ANG_XX.wav");
        }

        var demographicsPath = FindDemographics(root, audioFolder, options);
        var demographics = demographicsPath is null ? null : ActorDemographics.Read(demographicsPath, options.Files);
        var split = ActorSplit.Split(parsed.Select(p => p.Name.Actor), demographics, options.Seed, options.Fractions);
        var rows = parsed.Select(p => (p.RelativePath, p.Name.Label, split[p.Name.Actor], (string?)p.Name.Actor)).ToList();
        return new Dataset(root, DatasetLayout.Official, AssignIds(rows))
        {
            Rejected = rejected,
            SplitSeed = options.Seed,
            DemographicsPath = demographicsPath,
        };
    }

    private static string? FindDemographics(string root, string audioFolder, DatasetOptions options)
    {
        if (options.DemographicsPath is { } given)
        {
            var full = Path.GetFullPath(given);
            if (!options.Files.FileExists(full)) throw new DatasetFormatException(full, null, "demographics file not found");
            return full;
        }
        string?[] candidates =
        [
            Path.Combine(root, ActorDemographics.FileName),
            Path.GetDirectoryName(audioFolder) is { } parent ? Path.Combine(parent, ActorDemographics.FileName) : null,
            Path.Combine(audioFolder, ActorDemographics.FileName),
        ];
        return candidates.FirstOrDefault(c => c is not null && options.Files.FileExists(c));
    }

    /// <summary>Ids are file names without extension; where two clips share one, both use their relative path instead.</summary>
    private static List<ClipEntry> AssignIds(List<(string RelativePath, int Label, Partition Partition, string? Actor)> rows)
    {
        static string Stem(string relativePath) => Path.GetFileNameWithoutExtension(relativePath);
        static string PathId(string relativePath)
        {
            var extension = Path.GetExtension(relativePath);
            return relativePath[..^extension.Length];
        }
        var stemCounts = rows.GroupBy(r => Stem(r.RelativePath), StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
        return rows.Select(r => new ClipEntry(
                stemCounts[Stem(r.RelativePath)] == 1 ? Stem(r.RelativePath) : PathId(r.RelativePath),
                r.RelativePath, r.Label, r.Partition, r.Actor))
            .ToList();
    }
}
