namespace CremaD.Audio.Tests;
