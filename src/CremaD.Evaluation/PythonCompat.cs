using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CremaD.Evaluation;

/// <summary>
/// Formatting and arithmetic that reproduce what the original Python scripts produced, so the JSON artefacts
/// of a C# run are byte-for-byte comparable with (and diffable against) <c>json.dump(..., indent=2)</c> output.
/// </summary>
internal static class PythonCompat
{
    /// <summary>
    /// Python's <c>repr(float)</c>: the shortest digits that round-trip, fixed notation when the decimal exponent is in
    /// [-4, 16) (always with a fractional part, "1.0"), otherwise scientific ("1e-05", "1.5e+16").
    /// .NET's round-trip formatting gives the same digits but prints "1" and "1E-05".
    /// </summary>
    public static string FloatRepr(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Only finite numbers have a JSON number representation.");
        }
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        // "R" yields the shortest round-trip digits, either as "-123.45" or as "-1.2345E-07".
        var roundTrip = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = roundTrip[0] == '-';
        if (negative) roundTrip = roundTrip[1..];
        var exponentAt = roundTrip.IndexOf('E');
        var mantissa = exponentAt < 0 ? roundTrip : roundTrip[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(roundTrip[(exponentAt + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

        // Normalise to digits d1d2...dn and decimalPoint such that value = 0.d1d2...dn * 10^decimalPoint.
        var dot = mantissa.IndexOf('.');
        var digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        var decimalPoint = (dot < 0 ? mantissa.Length : dot) + exponent;
        var leadingZeros = 0;
        while (leadingZeros < digits.Length - 1 && digits[leadingZeros] == '0') leadingZeros++;
        digits = digits[leadingZeros..].TrimEnd('0');
        decimalPoint -= leadingZeros;

        var text = new StringBuilder(24);
        if (negative) text.Append('-');
        if (decimalPoint > -4 && decimalPoint <= 16)
        {
            if (decimalPoint <= 0)
            {
                text.Append("0.").Append('0', -decimalPoint).Append(digits);
            }
            else if (decimalPoint < digits.Length)
            {
                text.Append(digits, 0, decimalPoint).Append('.').Append(digits, decimalPoint, digits.Length - decimalPoint);
            }
            else
            {
                text.Append(digits).Append('0', decimalPoint - digits.Length).Append(".0");
            }
        }
        else
        {
            text.Append(digits[0]);
            if (digits.Length > 1) text.Append('.').Append(digits, 1, digits.Length - 1);
            var scientificExponent = decimalPoint - 1;
            text.Append('e').Append(scientificExponent < 0 ? '-' : '+')
                .Append(Math.Abs(scientificExponent).ToString("00", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    /// <summary>Writes a float as Python's json module would (its repr).</summary>
    public static void WritePythonFloat(this Utf8JsonWriter writer, double value) =>
        writer.WriteRawValue(FloatRepr(value), skipInputValidation: true);

    /// <summary>
    /// A writer laid out like <c>json.dump(obj, f, indent=2)</c>: two-space indent, "key": value, "\n" line ends,
    /// no trailing newline. Only characters JSON requires are escaped, so class names stay readable.
    /// </summary>
    public static string WriteIndented(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            IndentCharacter = ' ',
            IndentSize = 2,
            NewLine = "\n",
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// NumPy's <c>np.add.reduce</c> over a contiguous float64 array (pairwise summation with 8 accumulators in
    /// blocks of up to 128, plain left-to-right below 8 elements). Means and weighted averages computed with it
    /// match scikit-learn's to the last bit, not just to rounding.
    /// </summary>
    public static double NumpySum(ReadOnlySpan<double> values)
    {
        const int blockSize = 128;
        if (values.Length < 8)
        {
            var sum = 0.0;
            foreach (var value in values) sum += value;
            return sum;
        }
        if (values.Length <= blockSize)
        {
            Span<double> accumulators = stackalloc double[8];
            values[..8].CopyTo(accumulators);
            var i = 8;
            for (; i < values.Length - values.Length % 8; i += 8)
            {
                for (var j = 0; j < 8; j++) accumulators[j] += values[i + j];
            }
            var result = ((accumulators[0] + accumulators[1]) + (accumulators[2] + accumulators[3]))
                         + ((accumulators[4] + accumulators[5]) + (accumulators[6] + accumulators[7]));
            for (; i < values.Length; i++) result += values[i];
            return result;
        }
        var half = values.Length / 2;
        half -= half % 8;
        return NumpySum(values[..half]) + NumpySum(values[half..]);
    }
}
