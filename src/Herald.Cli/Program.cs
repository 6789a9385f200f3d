using System.CommandLine;
using Herald.Cli.Commands;

var root = new RootCommand("Herald: send large promotional email campaigns, at most once per recipient.");
foreach (var command in CommandCatalog.All())
{
    root.Add(command);
}

// System.CommandLine ends the process 2 s after SIGINT/SIGTERM by default; `serve` needs longer to write its buffered
// events to the store, so commands get 30 s to stop on their own.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
    })
    .ConfigureAwait(false);
