using System.CommandLine;

namespace Herald.Cli.Commands;

internal static class SendCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var db = DbOption.Create();
        var command = new Command("send", "Send a campaign (prepares the plan first when it is missing); resumes where a previous run stopped.")
        {
            campaign,
            db,
        };
        command.SetAction((result, stop) => CliRunner.RunAsync(() =>
            SendRunner.RunAsync(result.GetValue(campaign)!, result.GetValue(db), resetInDoubt: false, stop)));
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
