using System.CommandLine;
using Herald.Delivery;

namespace Herald.Cli.Commands;

internal static class RetryCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var inDoubt = new Option<bool>("--in-doubt") { Description = "Send again to recipients whose delivery is in doubt." };
        var accept = new Option<bool>("--accept-duplicates") { Description = "Confirm that some in-doubt recipients may receive the email twice." };
        var failed = new Option<bool>("--failed") { Description = "Send again to failed recipients (they were refused, so never received it): for failures a relay problem caused." };
        var code = new Option<string[]>("--code")
        {
            Description = "With --failed: only recipients whose last reply matches one of these codes, comma-separated: reply codes (530, 55x, 5xx; x is any digit) or enhanced status codes (5.7.0, 5.7.x).",
            AllowMultipleArgumentsPerToken = false,
        };
        var db = DbOption.Create();
        var verbose = VerboseOption.Create();
        var command = new Command("retry", "Operator decisions: send again to in-doubt recipients (accepting possible duplicates) or to failed ones.")
        {
            campaign,
            inDoubt,
            accept,
            failed,
            code,
            db,
            verbose,
        };
        var tuning = SendTuning.AddOptions(command);
        command.SetAction((result, stop) => CliRunner.RunAsync(async () =>
        {
            var retryInDoubt = result.GetValue(inDoubt);
            var retryFailed = result.GetValue(failed);
            var codes = result.GetValue(code) ?? [];
            if (!retryInDoubt && !retryFailed)
            {
                Console.Error.WriteLine("error: say what to send again: --failed [--code 530,5.7.0,55x] for failed recipients, or --in-doubt --accept-duplicates for in-doubt ones.");
                return CliRunner.Invalid;
            }

            if (retryInDoubt && !result.GetValue(accept))
            {
                Console.Error.WriteLine("error: in-doubt recipients may already have the email; pass both --in-doubt and --accept-duplicates to send it to them again.");
                return CliRunner.Invalid;
            }

            ReplyCodeFilter? filter = null;
            if (codes.Length > 0)
            {
                if (!retryFailed)
                {
                    Console.Error.WriteLine("error: --code chooses among failed recipients: use it with --failed.");
                    return CliRunner.Invalid;
                }

                if (!ReplyCodeFilter.TryParse(string.Join(",", codes), out var parsed, out var error))
                {
                    Console.Error.WriteLine($"error: {error}");
                    return CliRunner.Invalid;
                }

                filter = parsed;
            }

            var request = new SendRequest(ResetInDoubt: retryInDoubt, ResetFailed: retryFailed, FailedCodes: filter, Verbose: result.GetValue(verbose), Tuning: tuning(result));
            return await SendRunner.RunAsync(result.GetValue(campaign)!, result.GetValue(db), request, stop).ConfigureAwait(false);
        }));
        return command;
    }
}
