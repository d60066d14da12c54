namespace CremaD.Datasets;

/// <summary>One row of CREMA-D's <c>VideoDemographics.csv</c>.</summary>
public sealed record ActorInfo(string ActorId, int? Age, string Sex, string Race, string Ethnicity);

/// <summary>Reads <c>VideoDemographics.csv</c> (columns ActorID, Age, Sex, Race, Ethnicity; any order).</summary>
public static class ActorDemographics
{
    public const string FileName = "VideoDemographics.csv";

    /// <summary>Where <see cref="CremaD"/> comes from, as cards and errors name it.</summary>
    public const string BuiltInSource = "CREMA-D VideoDemographics.csv (built in; ODbL 1.0, CheyneyComputerScience/CREMA-D)";

    private static readonly Lazy<IReadOnlyDictionary<string, ActorInfo>> BuiltIn =
        new(() => Parse(CremaDMetadata.ReadText(FileName), BuiltInSource));

    /// <summary>
    /// The 91 CREMA-D actors (1001–1091) as the corpus's own VideoDemographics.csv describes them, built into the tool:
    /// a feature store or model directory does not carry the dataset's metadata, and the actors never change.
    /// </summary>
    public static IReadOnlyDictionary<string, ActorInfo> CremaD => BuiltIn.Value;

    public static IReadOnlyDictionary<string, ActorInfo> Read(string path, IDatasetFiles? files = null) =>
        Parse((files ?? LocalDatasetFiles.Instance).ReadText(path), path);

    /// <summary>Parses the text of a VideoDemographics.csv; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyDictionary<string, ActorInfo> Parse(string text, string source)
    {
        var path = source;
        var records = Csv.Parse(text, path);
        var rows = records.Where(r => !r.IsBlank).ToList();
        if (rows.Count == 0) throw new DatasetFormatException(path, null, "empty file: expected a header ActorID,Age,Sex,Race,Ethnicity");
        var header = rows[0];
        int Column(string name, bool required)
        {
            for (var i = 0; i < header.Fields.Count; i++)
            {
                if (string.Equals(header.Fields[i], name, StringComparison.OrdinalIgnoreCase)) return i;
            }
            if (required) throw new DatasetFormatException(path, header.LineNumber, $"missing column '{name}' (header: {string.Join(",", header.Fields)})");
            return -1;
        }
        var actorColumn = Column("ActorID", true);
        var sexColumn = Column("Sex", true);
        var ageColumn = Column("Age", false);
        var raceColumn = Column("Race", false);
        var ethnicityColumn = Column("Ethnicity", false);

        var actors = new Dictionary<string, ActorInfo>(StringComparer.Ordinal);
        foreach (var row in rows.Skip(1))
        {
            if (row.Fields.Count != header.Fields.Count)
            {
                throw new DatasetFormatException(path, row.LineNumber, $"expected {header.Fields.Count} fields, found {row.Fields.Count}");
            }
            string Field(int column) => column < 0 ? "" : row.Fields[column];
            var id = Field(actorColumn);
            if (id.Length == 0) throw new DatasetFormatException(path, row.LineNumber, "empty ActorID");
            var sex = NormaliseSex(Field(sexColumn));
            int? age = int.TryParse(Field(ageColumn), out var a) ? a : null;
            if (!actors.TryAdd(id, new ActorInfo(id, age, sex, Field(raceColumn), Field(ethnicityColumn))))
            {
                throw new DatasetFormatException(path, row.LineNumber, $"duplicate ActorID '{id}'");
            }
        }
        return actors;
    }

    private static string NormaliseSex(string sex) => sex.Trim().ToLowerInvariant() switch
    {
        "male" or "m" => "Male",
        "female" or "f" => "Female",
        "" => "Unknown",
        var other => char.ToUpperInvariant(other[0]) + other[1..],
    };
}

/// <summary>CREMA-D's metadata files built into this assembly (Metadata/, ODbL 1.0: see Metadata/CREMA-D-LICENSE.txt).</summary>
internal static class CremaDMetadata
{
    /// <summary>The text of the built-in <paramref name="fileName"/> (VideoDemographics.csv, summaryTable.csv).</summary>
    public static string ReadText(string fileName)
    {
        using var stream = typeof(CremaDMetadata).Assembly.GetManifestResourceStream("CremaD.Datasets." + fileName)
            ?? throw new InvalidOperationException($"The built-in {fileName} resource is missing from CremaD.Datasets.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
