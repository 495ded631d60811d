using Spawnlab.Cli;

return await SpawnlabCli.RunAsync(args, CliContext.FromConsole());
