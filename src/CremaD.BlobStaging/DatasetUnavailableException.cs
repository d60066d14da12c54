
namespace CremaD.BlobStaging;

/// <summary>The dataset prefix does not exist or cannot be read as a CREMA-D dataset.</summary>
public sealed class DatasetUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);
