using System.CommandLine;

namespace Herald.Cli.Commands;

internal static class SendCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var db = DbOption.Create();
        var to = new Option<string?>("--to")
        {
            Description = "Test send: the real rendering to these seed addresses (comma-separated), marked as a test (X-Herald-Test: 1, subject [TEST]); nothing is recorded.",
        };
        var asRecipient = new Option<string?>("--as")
        {
            Description = "With --to: render the message of this recipient id (default: the first deliverable recipient).",
        };
        var command = new Command("send", "Send a campaign (prepares the plan first when it is missing); resumes where a previous run stopped.")
        {
            campaign,
            db,
            to,
            asRecipient,
        };
        command.SetAction((result, stop) => CliRunner.RunAsync(() =>
        {
            if (result.GetValue(to) is { } seeds)
            {
                return TestSend.RunAsync(result.GetValue(campaign)!, result.GetValue(db), seeds, result.GetValue(asRecipient), Console.Out, stop);
            }

            if (result.GetValue(asRecipient) is not null)
            {
                throw new HeraldException("--as only goes with --to (a test send).");
            }

            return SendRunner.RunAsync(result.GetValue(campaign)!, result.GetValue(db), resetInDoubt: false, stop);
        }));
        return command;
    }
}

internal static class DbOption
{
    public static Option<string?> Create() => new("--db")
    {
        Description = "The store: a SQLite file or a postgresql:// address. Default: $HERALD_DB, else the first herald.db found walking up from the campaign's folder, else $XDG_DATA_HOME/herald/herald.db (docs/STORE.md).",
    };
}
