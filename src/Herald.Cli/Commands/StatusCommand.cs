using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Spectre.Console;

namespace Herald.Cli.Commands;

internal static class StatusCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: campaign, total, pending, sending, sent, failed, in_doubt, skipped." };
        var db = DbOption.Create();
        var command = new Command("status", "Counts of recipients per delivery state.") { campaign, json, db };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var file = result.GetValue(campaign)!;
            var loaded = CampaignLoader.Load(file);
            var stores = await StoreFactory.OpenAsync(result.GetValue(db), file, StoreAccess.ReadOnly, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var c = await stores.Delivery.GetCountsAsync(loaded.Id, ct).ConfigureAwait(false);
                if (result.GetValue(json))
                {
                    var document = new Dictionary<string, object>
                    {
                        ["store"] = stores.Location.Display,
                        ["campaign"] = c.Campaign,
                        ["total"] = c.Total,
                        ["pending"] = c.Pending,
                        ["sending"] = c.Sending,
                        ["sent"] = c.Sent,
                        ["failed"] = c.Failed,
                        ["in_doubt"] = c.InDoubt,
                        ["skipped"] = c.Skipped,
                    };
                    Console.WriteLine(JsonSerializer.Serialize(document));
                    return CliRunner.Ok;
                }

                Console.WriteLine(stores.Location.Line);
                var table = new Table().AddColumns("campaign", "total", "pending", "sending", "sent", "failed", "in_doubt", "skipped");
                table.AddRow(new object[] { c.Campaign, c.Total, c.Pending, c.Sending, c.Sent, c.Failed, c.InDoubt, c.Skipped }
                    .Select(v => Markup.Escape(Convert.ToString(v, CultureInfo.InvariantCulture)!)).ToArray());
                AnsiConsole.Write(table);
                return CliRunner.Ok;
            }
        }));
        return command;
    }
}
