namespace CremaD.Evaluation.Tests;

public class PythonCompatTests
{
    // Right-hand sides are Python 3.11's repr() / json.dumps() of the same doubles.
    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1.0, "1.0")]
    [InlineData(100.0, "100.0")]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(-0.25, "-0.25")]
    [InlineData(1.0 / 3, "0.3333333333333333")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.0003, "0.0003")]
    [InlineData(0.00012345, "0.00012345")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(1.5e-07, "1.5e-07")]
    [InlineData(123.456, "123.456")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1.2345e16, "1.2345e+16")]
    [InlineData(12345678901234567.0, "1.2345678901234568e+16")]
    [InlineData(1e22, "1e+22")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    public void FloatRepr_matches_python(double value, string python)
    {
        Assert.Equal(python, PythonCompat.FloatRepr(value));
    }

    [Fact]
    public void FloatRepr_rejects_non_finite_values()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PythonCompat.FloatRepr(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => PythonCompat.FloatRepr(double.PositiveInfinity));
    }

    [Fact]
    public void NumpySum_uses_pairwise_blocks_of_eight()
    {
        // 1e16 absorbs a lone 1.0 but not a pair: left-to-right gives 1e16 + 8 * (lost 1.0) = 1e16, whereas NumPy's
        // eight accumulators add the ones in pairs first. Ordering is what makes the averages bit-identical.
        double[] values = [1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        var expected = ((1e16 + 1) + (1.0 + 1)) + ((1.0 + 1) + (1.0 + 1)) + 1 + 1;
        Assert.Equal(expected, PythonCompat.NumpySum(values));
        Assert.NotEqual(values.Aggregate(0.0, (sum, v) => sum + v), PythonCompat.NumpySum(values));
        Assert.Equal(6.0, PythonCompat.NumpySum([1, 2, 3]));
        Assert.Equal(0.0, PythonCompat.NumpySum([]));
    }
}
