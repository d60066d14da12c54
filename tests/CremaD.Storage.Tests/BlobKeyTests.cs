namespace CremaD.Storage.Tests;

public sealed class BlobKeyTests
{
    [Theory]
    [InlineData("history.json")]
    [InlineData("runs/2024-06-01T10-00/history.json")]
    [InlineData("runs/r1/.hidden")]
    [InlineData("runs/r1/with space/é.txt")]
    public void Valid_keys_pass(string key)
    {
        BlobKey.Validate(key);
        Assert.True(BlobKey.IsValid(key));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/abs", "relative")]
    [InlineData("a//b", "empty segment")]
    [InlineData("a/b/", "empty segment")]
    [InlineData("a/./b", "'.' segment")]
    [InlineData("a/../b", "'..' segment")]
    [InlineData("a\\b", "'\\'")]
    [InlineData("a\nb", "control character")]
    [InlineData("a/b.", "ends with '.'")]
    [InlineData(".cremad-store/x", "reserved")]
    public void Invalid_keys_name_the_rule_they_break(string key, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => BlobKey.Validate(key));

        Assert.Contains(reason, error.Message);
        Assert.False(BlobKey.IsValid(key));
    }

    [Fact]
    public void Overlong_keys_are_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => BlobKey.Validate(new string('a', 1025)));

        Assert.Contains("more than 1024", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("runs/")]
    [InlineData("runs/r")]
    [InlineData(".cremad")]
    public void Valid_prefixes_pass(string prefix) => BlobKey.ValidatePrefix(prefix);

    [Theory]
    [InlineData("/runs")]
    [InlineData("runs//")]
    [InlineData("../runs/")]
    [InlineData(".cremad-store/")]
    public void Invalid_prefixes_are_rejected(string prefix) =>
        Assert.Throws<ArgumentException>(() => BlobKey.ValidatePrefix(prefix));

    [Fact]
    public void Combine_joins_segments_into_a_valid_key()
    {
        Assert.Equal("runs/r1/history.json", BlobKey.Combine("runs/", "/r1", "history.json"));
        Assert.Equal("runs/r1/plots/a.png", BlobKey.Combine("runs/r1", "plots/a.png"));
        Assert.Throws<ArgumentException>(() => BlobKey.Combine("runs", "..", "x"));
    }

    [Fact]
    public void Folder_prefixes_end_with_a_slash()
    {
        Assert.Equal("", BlobKey.AsFolderPrefix(""));
        Assert.Equal("runs/r1/", BlobKey.AsFolderPrefix("runs/r1"));
        Assert.Equal("runs/r1/", BlobKey.AsFolderPrefix("runs/r1/"));
    }
}
