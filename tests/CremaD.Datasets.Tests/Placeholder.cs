namespace CremaD.Datasets.Tests;
