using System.CommandLine;

namespace Herald.Cli.Commands;

internal static class RetryCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var inDoubt = new Option<bool>("--in-doubt") { Description = "Send again to recipients whose delivery is in doubt." };
        var accept = new Option<bool>("--accept-duplicates") { Description = "Confirm that some of them may receive the email twice." };
        var db = DbOption.Create();
        var command = new Command("retry", "Operator decision: send again to in-doubt recipients, accepting possible duplicates.")
        {
            campaign,
            inDoubt,
            accept,
            db,
        };
        var tuning = SendTuning.AddOptions(command);
        command.SetAction((result, stop) => CliRunner.RunAsync(async () =>
        {
            if (!result.GetValue(inDoubt) || !result.GetValue(accept))
            {
                Console.Error.WriteLine("error: in-doubt recipients may already have the email; pass both --in-doubt and --accept-duplicates to send it to them again.");
                return CliRunner.Invalid;
            }

            return await SendRunner.RunAsync(result.GetValue(campaign)!, result.GetValue(db), resetInDoubt: true, tuning(result), stop).ConfigureAwait(false);
        }));
        return command;
    }
}
