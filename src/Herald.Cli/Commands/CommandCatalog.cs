using System.CommandLine;

namespace Herald.Cli.Commands;

/// <summary>Every command of the tool; each lives in its own file.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        // One line per command; keep alphabetical to ease merges.
        yield return BouncesCommand.Create();
        yield return DemoCommand.Create();
        yield return DkimCommand.Create();
        yield return EventsCommand.Create();
        yield return InitCommand.Create();
        yield return PrepareCommand.Create();
        yield return PreviewCommand.Create();
        yield return ReportCommand.Create();
        yield return RetryCommand.Create();
        yield return SendCommand.Create();
        yield return ServeCommand.Create();
        yield return SinkCommand.Create();
        yield return StatusCommand.Create();
        yield return SuppressCommand.Create();
        yield return ValidateCommand.Create();
        yield break;
    }
}
