using System.CommandLine;
using System.Globalization;
using Herald.Cli.Commands;

// Globalization is on for correct IDNA (ICU); output and parsing stay culture-neutral whatever LANG says.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;

var root = new RootCommand("Herald: send large promotional email campaigns, at most once per recipient.");
foreach (var command in CommandCatalog.All())
{
    root.Add(command);
}

// SIGINT/SIGTERM cancel the command's token; System.CommandLine ends the process 2 s later by default. `serve` needs longer to write its buffered
// events and `send` to finish the transactions in flight, so commands get 30 s to stop on their own (a send killed
// after that leaves at most its in-flight recipients in_doubt, never a duplicate).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
    })
    .ConfigureAwait(false);
