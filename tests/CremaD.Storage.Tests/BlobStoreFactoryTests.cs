using Azure.Core;
using CremaD.LocalInfrastructure;
using CremaD.Testing;

namespace CremaD.Storage.Tests;

public sealed class BlobStoreFactoryTests
{
    private const string AzuriteConnectionString =
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AzuriteInstance.AccountKey +
        ";BlobEndpoint=http://127.0.0.1:10500/devstoreaccount1;";

    [Fact]
    public void An_account_connection_string_gives_an_azure_store_whose_location_hides_the_key()
    {
        var store = Assert.IsType<AzureBlobStore>(BlobStoreFactory.FromConnectionString(AzuriteConnectionString, "cremad"));

        Assert.Equal("cremad", store.Container.Name);
        Assert.Equal(new Uri("http://127.0.0.1:10500/devstoreaccount1/cremad"), store.Container.Uri);
        Assert.DoesNotContain(AzuriteInstance.AccountKey, store.Location);
    }

    [Fact]
    public void Development_storage_shorthand_is_accepted()
    {
        var store = Assert.IsType<AzureBlobStore>(BlobStoreFactory.FromConnectionString("UseDevelopmentStorage=true", "cremad"));

        Assert.Equal("devstoreaccount1", store.Container.AccountName);
    }

    [Fact]
    public void A_blob_endpoint_uri_gives_an_azure_store_with_the_given_or_default_credential()
    {
        var store = Assert.IsType<AzureBlobStore>(
            BlobStoreFactory.FromConnectionString("https://cremadstore.blob.core.windows.net/", "runs", new FixedTokenCredential()));
        var withDefaultCredential = Assert.IsType<AzureBlobStore>(
            BlobStoreFactory.FromConnectionString("https://cremadstore.blob.core.windows.net", "runs"));

        Assert.Equal(new Uri("https://cremadstore.blob.core.windows.net/runs"), store.Container.Uri);
        Assert.Equal("cremadstore", withDefaultCredential.Container.AccountName);
    }

    [Fact]
    public void A_file_uri_or_a_directory_path_gives_a_local_store_with_the_container_as_subfolder()
    {
        using var folder = new TempDirectory();

        var fromUri = Assert.IsType<LocalFolderBlobStore>(BlobStoreFactory.FromConnectionString(new Uri(folder.Path).AbsoluteUri, "cremad"));
        var fromPath = Assert.IsType<LocalFolderBlobStore>(BlobStoreFactory.FromConnectionString(folder.Path, "cremad"));
        var fromRelative = Assert.IsType<LocalFolderBlobStore>(
            BlobStoreFactory.FromConnectionString(Path.GetRelativePath(Environment.CurrentDirectory, folder.Path), "cremad"));

        var expected = Path.Combine(folder.Path, "cremad");
        Assert.Equal(expected, fromUri.RootDirectory);
        Assert.Equal(expected, fromPath.RootDirectory);
        Assert.Equal(expected, fromRelative.RootDirectory);
        Assert.True(Directory.Exists(expected));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("AccountName=devstoreaccount1;garbage", "'garbage' is not a 'Name=value' setting")]
    [InlineData("DefaultEndpointsProtocol=http;AccountKey=abc=", "neither BlobEndpoint nor AccountName")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=cremadstore", "neither AccountKey nor SharedAccessSignature")]
    [InlineData("AccountName=devstoreaccount1;AccountKey=not base64!;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1", "AccountKey is not valid base64")]
    [InlineData("AccountName=devstoreaccount1;AccountKey=YWJj;BlobEndpoint=127.0.0.1:1", "BlobEndpoint '127.0.0.1:1' is not an http(s) URI")]
    [InlineData("ftp://files.example/", "unsupported scheme 'ftp'")]
    [InlineData("http://cremadstore.blob.core.windows.net/", "must use https")]
    [InlineData("https://cremadstore.blob.core.windows.net/runs", "has a path")]
    public void Malformed_values_are_rejected_with_the_reason(string value, string reason)
    {
        var error = Assert.Throws<FormatException>(() => BlobStoreFactory.FromConnectionString(value, "cremad"));

        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain("not base64!", error.Message); // keys are never echoed
    }

    [Fact]
    public void A_file_where_a_directory_is_expected_is_rejected()
    {
        using var folder = new TempDirectory();
        var file = Path.Combine(folder.Path, "not-a-dir");
        File.WriteAllText(file, "");

        var error = Assert.Throws<FormatException>(() => BlobStoreFactory.FromConnectionString(file, "cremad"));

        Assert.Contains(file, error.Message);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("Upper")]
    [InlineData("under_score")]
    [InlineData("double--hyphen")]
    [InlineData("-leading")]
    [InlineData("trailing-")]
    public void Invalid_container_names_are_rejected(string container)
    {
        var error = Assert.Throws<FormatException>(() => BlobStoreFactory.FromConnectionString(AzuriteConnectionString, container));

        Assert.Contains($"'{container}'", error.Message);
    }

    private sealed class FixedTokenCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new("token", DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
