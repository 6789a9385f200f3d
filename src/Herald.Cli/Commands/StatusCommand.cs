using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Store;
using Spectre.Console;

namespace Herald.Cli.Commands;

internal static class StatusCommand
{
    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var json = new Option<bool>("--json") { Description = "Print JSON: store, campaign, the counts per state, state (paused, complete, in_progress, not_started), reason, paused_since, relays, workers." };
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
                var pause = await stores.State.GetPauseAsync(loaded.Id, ct).ConfigureAwait(false);
                var relays = Relays(loaded, await stores.State.GetRelayHealthAsync(loaded.Id, ct).ConfigureAwait(false));
                var state = pause is not null ? "paused"
                    : c.Total > 0 && c.AllFinal ? "complete"
                    : c.Sent + c.Failed + c.InDoubt + c.Sending > 0 ? "in_progress"
                    : "not_started";
                var workers = await stores.Delivery.ListWorkersAsync(loaded.Id, ct).ConfigureAwait(false);
                if (result.GetValue(json))
                {
                    var document = new Dictionary<string, object?>
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
                        ["state"] = state,
                        ["reason"] = pause?.Reason,
                        ["paused_since"] = pause?.Since,
                        ["relays"] = relays.Select(r => new Dictionary<string, object?>
                        {
                            ["name"] = r.Name,
                            ["state"] = r.State.ToName(),
                            ["last_reply"] = r.LastReply,
                            ["last_error"] = r.LastError,
                            ["since"] = r.State == RelayHealthState.Unknown ? null : r.Since,
                        }).ToList(),
                        // Every sender of the campaign; a dead one (live: false) keeps its rows until lease_until, when any
                        // live sender takes them over (pending rows back to the pool, sending rows in_doubt).
                        ["workers"] = workers.Select(w => new Dictionary<string, object>
                        {
                            ["id"] = w.WorkerId,
                            ["host"] = w.Host,
                            ["pid"] = w.ProcessId,
                            ["rows_held"] = w.RowsHeld,
                            ["started_at"] = w.StartedAt.ToString("O", CultureInfo.InvariantCulture),
                            ["last_renewal"] = w.LastRenewalAt.ToString("O", CultureInfo.InvariantCulture),
                            ["lease_until"] = w.LeaseUntil.ToString("O", CultureInfo.InvariantCulture),
                            ["live"] = w.Live,
                        }).ToList(),
                    };
                    Console.WriteLine(JsonSerializer.Serialize(document));
                    return CliRunner.Ok;
                }

                Console.WriteLine(stores.Location.Line);
                var table = new Table().AddColumns("campaign", "total", "pending", "sending", "sent", "failed", "in_doubt", "skipped");
                table.AddRow(new object[] { c.Campaign, c.Total, c.Pending, c.Sending, c.Sent, c.Failed, c.InDoubt, c.Skipped }
                    .Select(v => Markup.Escape(Convert.ToString(v, CultureInfo.InvariantCulture)!)).ToArray());
                AnsiConsole.Write(table);
                if (pause is not null)
                {
                    // A plain line: a table or markup would wrap the reason on a narrow or redirected console.
                    Console.WriteLine($"paused since {pause.Since.ToLocalTime():yyyy-MM-dd HH:mm:ss}: {pause.Reason}");
                    Console.WriteLine("fix it, then run 'herald send' again to continue.");
                }
                else
                {
                    Console.WriteLine($"state: {state}");
                }

                var relayTable = new Table().AddColumns("relay", "state", "since", "last reply", "last error");
                foreach (var r in relays)
                {
                    relayTable.AddRow(
                        Markup.Escape(r.Name),
                        r.State.ToName(),
                        r.State == RelayHealthState.Unknown ? "-" : r.Since.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                        Markup.Escape(r.LastReply ?? "-"),
                        Markup.Escape(r.LastError ?? "-"));
                }

                AnsiConsole.Write(relayTable);

                if (workers.Count > 0)
                {
                    var senders = new Table().AddColumns("sender", "host", "pid", "rows held", "last renewal", "lease until", "state");
                    foreach (var w in workers)
                    {
                        senders.AddRow(new object[]
                        {
                            w.WorkerId, w.Host, w.ProcessId, w.RowsHeld,
                            w.LastRenewalAt.ToString("u", CultureInfo.InvariantCulture), w.LeaseUntil.ToString("u", CultureInfo.InvariantCulture),
                            w.Live ? "live" : "lease expired: its rows are taken over by the next live sender",
                        }.Select(v => Markup.Escape(Convert.ToString(v, CultureInfo.InvariantCulture)!)).ToArray());
                    }

                    AnsiConsole.Write(senders);
                }

                return CliRunner.Ok;
            }
        }));
        return command;
    }

    /// <summary>Every relay of the campaign, in its order, with the health its senders last recorded (unknown when none).</summary>
    private static List<RelayHealth> Relays(Campaign campaign, IReadOnlyList<RelayHealth> recorded)
    {
        var byName = recorded.ToDictionary(r => r.Name, StringComparer.Ordinal);
        var list = campaign.Relays.Select(r => byName.Remove(r.Name, out var health) ? health : new RelayHealth(r.Name, RelayHealthState.Unknown, null, null, default)).ToList();
        // Relays renamed or removed from the file since keep their last word.
        list.AddRange(byName.Values);
        return list;
    }
}
