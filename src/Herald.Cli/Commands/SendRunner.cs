using System.Globalization;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Cli.Stores;
using Herald.Store;
using Herald.Tracking;
using Spectre.Console;

namespace Herald.Cli.Commands;

/// <summary>What send, retry and demo share: plan if needed, run the engine, show progress, map the result to an exit code.</summary>
internal static class SendRunner
{
    public static async Task<int> RunAsync(string campaignFile, string? db, bool resetInDoubt, CancellationToken stopToken)
    {
        // System.CommandLine turns SIGINT/SIGTERM into this token (and keeps the process alive for Program's
        // ProcessTerminationTimeout): no new transactions start, those in flight finish and are recorded.
        using var announce = stopToken.Register(() => Console.Error.WriteLine("stopping: no new messages; finishing those in flight…"));
        var signer = TokenSigner.FromEnvironment();
        // Config, templates and recipient columns are checked before anything is planned or sent.
        var location = StoreLocator.Resolve(db, campaignFile);
        Console.WriteLine(location.Line);
        using var session = CampaignSession.Open(campaignFile, signer, stopToken);
        session.Describe(Console.Out);
        var campaign = session.Campaign;
        var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadWrite, stopToken).ConfigureAwait(false);
        await using (stores.ConfigureAwait(false))
        {
            var store = stores.Delivery;
            // The suppression list lives in the same store; it is honoured at prepare time and again right before each send.
            var suppression = stores.Tracking;
            await PlanStep.EnsurePlanAsync(campaign, store, suppression, stopToken).ConfigureAwait(false);
            // Reports name links by the template's labels: record them as sending starts, for this campaign's report and dashboard.
            await stores.Reports.SaveLinksAsync(campaign.Id, session.Compiled.TrackedLinks, stopToken).ConfigureAwait(false);

            if (resetInDoubt)
            {
                var reset = await store.ResetInDoubtAsync(campaign.Id, stopToken).ConfigureAwait(false);
                Console.WriteLine($"{reset} in-doubt recipient(s) will be sent again (duplicates accepted by the operator).");
            }

            var engine = new DeliveryEngine(campaign, store, session.Compiled, suppression, new DeliveryEngineOptions { Dkim = session.Dkim });
            var result = await RunWithProgressAsync(engine, stopToken).ConfigureAwait(false);
            PrintSummary(campaign.Id, result, engine.Snapshot());
            return result.Stop switch
            {
                DeliveryStop.Completed => CliRunner.Ok,
                DeliveryStop.Unreachable => CliRunner.Unreachable,
                _ => CliRunner.Incomplete,
            };
        }
    }

    private static async Task<DeliveryResult> RunWithProgressAsync(DeliveryEngine engine, CancellationToken stopToken)
    {
        var run = engine.RunAsync(stopToken);
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Plain periodic lines for logs and pipes.
            while (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false) != run)
            {
                Console.WriteLine(FormatLine(engine.Snapshot()));
            }

            return await run.ConfigureAwait(false);
        }

        DeliveryResult? result = null;
        await AnsiConsole.Live(new Markup(""))
            .StartAsync(async context =>
            {
                while (await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None)).ConfigureAwait(false) != run)
                {
                    context.UpdateTarget(ProgressTable(engine.Snapshot()));
                }

                result = await run.ConfigureAwait(false);
                context.UpdateTarget(ProgressTable(engine.Snapshot()));
            }).ConfigureAwait(false);
        return result!;
    }

    private static Table ProgressTable(DeliveryProgress p)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("sent", "failed", "in doubt", "skipped", "remaining", "rate", "ETA");
        var rate = Rate(p);
        table.AddRow(
            p.Sent.ToString("N0", CultureInfo.InvariantCulture),
            p.Failed.ToString("N0", CultureInfo.InvariantCulture),
            p.InDoubt.ToString("N0", CultureInfo.InvariantCulture),
            p.Skipped.ToString("N0", CultureInfo.InvariantCulture),
            p.Remaining.ToString("N0", CultureInfo.InvariantCulture),
            $"{rate:N0}/s",
            Eta(p, rate));
        if (p.RelaysDown > 0)
        {
            table.Caption($"[yellow]{p.RelaysDown} relay(s) out of rotation[/]");
        }

        return table;
    }

    internal static string FormatLine(DeliveryProgress p)
    {
        var rate = Rate(p);
        return string.Create(CultureInfo.InvariantCulture,
            $"sent={p.Sent} failed={p.Failed} in_doubt={p.InDoubt} skipped={p.Skipped} remaining={p.Remaining} rate={rate:F0}/s eta={Eta(p, rate)}{(p.RelaysDown > 0 ? $" relays_down={p.RelaysDown}" : "")}");
    }

    private static double Rate(DeliveryProgress p) =>
        p.Elapsed.TotalSeconds > 0.5 ? p.SentThisRun / p.Elapsed.TotalSeconds : 0;

    private static string Eta(DeliveryProgress p, double rate) =>
        rate > 0 ? TimeSpan.FromSeconds(Math.Ceiling(p.Remaining / rate)).ToString("c", CultureInfo.InvariantCulture) : "-";

    private static void PrintSummary(string campaignId, DeliveryResult result, DeliveryProgress progress)
    {
        var c = result.Counts;
        if (result.RecoveredInDoubt > 0)
        {
            Console.WriteLine($"{result.RecoveredInDoubt} recipient(s) were left 'sending' by an interrupted run and are now in_doubt (not resent; see 'herald retry --in-doubt --accept-duplicates').");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"campaign {campaignId}: total={c.Total} sent={c.Sent} failed={c.Failed} in_doubt={c.InDoubt} skipped={c.Skipped} pending={c.Pending}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"this run: {progress.SentThisRun} sent in {progress.Elapsed.TotalSeconds:F1}s ({Rate(progress):F0}/s), {result.Commits} group commits"));
        switch (result.Stop)
        {
            case DeliveryStop.Stopped:
                Console.WriteLine("stopped before the end: run 'herald send' again to resume.");
                break;
            case DeliveryStop.Unreachable:
                Console.Error.WriteLine("no relay could be reached: nothing was marked failed; run 'herald send' again to resume.");
                break;
        }
    }
}
