namespace CremaD.Evaluation.Tests;
