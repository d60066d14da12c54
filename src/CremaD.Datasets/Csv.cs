using System.Text;

namespace CremaD.Datasets;

/// <summary>One record of a CSV file and the 1-based line it starts on.</summary>
internal readonly record struct CsvRecord(int LineNumber, IReadOnlyList<string> Fields)
{
    /// <summary>A line with nothing on it (or only whitespace) is not a record.</summary>
    public bool IsBlank => Fields.Count == 1 && Fields[0].Length == 0;
}

/// <summary>
/// RFC 4180 CSV: comma-separated, fields optionally quoted with '"' (doubled inside quotes), quoted fields may
/// hold commas and line breaks. Accepts CRLF, LF or CR line ends and a UTF-8 byte order mark. Unquoted fields
/// are trimmed, since hand-edited label files often have spaces after commas.
/// </summary>
internal static class Csv
{
    public static List<CsvRecord> Parse(string text, string filePath)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF') i = 1;
        var fieldWasQuoted = false;
        // Whether the unquoted field so far holds more than whitespace: kept as it grows, so that telling an opening
        // quote from a quote inside a field costs nothing (testing the field's text at each quote was quadratic).
        var fieldHasText = false;

        void EndField()
        {
            fields.Add(fieldWasQuoted ? field.ToString() : field.ToString().Trim());
            field.Clear();
            fieldWasQuoted = false;
            fieldHasText = false;
        }

        void EndRecord()
        {
            EndField();
            records.Add(new CsvRecord(recordLine, fields.ToArray()));
            fields.Clear();
        }

        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"' && !fieldHasText && !fieldWasQuoted)
            {
                // Quoted field: read to the closing quote, across line breaks.
                field.Clear();
                fieldWasQuoted = true;
                var openLine = line;
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new DatasetFormatException(filePath, openLine, "unterminated quoted field");
                    var q = text[i];
                    if (q == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    if (q == '\n' || (q == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n'))) line++;
                    field.Append(q);
                    i++;
                }
                // Only spaces may follow a closing quote before the delimiter.
                while (i < text.Length && (text[i] == ' ' || text[i] == '\t')) i++;
                if (i < text.Length && text[i] != ',' && text[i] != '\r' && text[i] != '\n')
                {
                    throw new DatasetFormatException(filePath, line, $"unexpected character '{text[i]}' after a closing quote");
                }
                continue;
            }

            switch (c)
            {
                case ',':
                    EndField();
                    i++;
                    break;
                case '\r':
                case '\n':
                    EndRecord();
                    i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                    line++;
                    recordLine = line;
                    break;
                default:
                    if (fieldWasQuoted) throw new DatasetFormatException(filePath, line, $"unexpected character '{c}' after a closing quote");
                    field.Append(c);
                    fieldHasText |= !char.IsWhiteSpace(c);
                    i++;
                    break;
            }
        }
        if (field.Length > 0 || fields.Count > 0 || fieldWasQuoted) EndRecord();
        return records;
    }

    /// <summary>Quotes a field when it holds a delimiter, a quote, a line break or edge spaces.</summary>
    public static string Escape(string field)
    {
        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0 && field.Trim().Length == field.Length) return field;
        return "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}

/// <summary>The CSV reader for other assemblies: each non-blank record's fields, header included.</summary>
public static class CsvFile
{
    /// <exception cref="DatasetFormatException">Malformed CSV (an unterminated quote); the message names <paramref name="source"/> and the line.</exception>
    public static IReadOnlyList<IReadOnlyList<string>> Records(string text, string source) =>
        Csv.Parse(text, source).Where(r => !r.IsBlank).Select(r => r.Fields).ToList();
}
