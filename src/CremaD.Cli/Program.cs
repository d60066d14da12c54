return await CremaD.Cli.CremaDCommandLine.InvokeAsync(args);
