namespace CremaD.Learning.Tests;
