using System.CommandLine;
using Herald.Cli.Commands;

var root = new RootCommand("Herald: send large promotional email campaigns, at most once per recipient.");
foreach (var command in CommandCatalog.All())
{
    root.Add(command);
}

return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false })
    .ConfigureAwait(false);
