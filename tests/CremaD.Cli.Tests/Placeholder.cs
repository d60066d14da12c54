namespace CremaD.Cli.Tests;
