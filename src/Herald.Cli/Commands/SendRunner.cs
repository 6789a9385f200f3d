using System.Globalization;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Cli.Stores;
using Herald.Store;
using Herald.Tracking;
using Spectre.Console;

namespace Herald.Cli.Commands;

/// <summary>What a run of send, retry or demo asks for besides the campaign.</summary>
/// <param name="ResetInDoubt">Operator decision: in-doubt recipients are sent again (duplicates accepted).</param>
/// <param name="ResetFailed">Operator decision: failed recipients are sent again; with <paramref name="FailedCodes"/> only those whose last reply matches.</param>
/// <param name="Verbose">Log each relay's SMTP conversation (no bodies, no credentials) to stderr.</param>
/// <param name="Tuning">The lease and the store-outage deadline; null for the defaults.</param>
internal sealed record SendRequest(bool ResetInDoubt = false, bool ResetFailed = false, ReplyCodeFilter? FailedCodes = null, bool Verbose = false, SendTuning? Tuning = null);

/// <summary>What send, retry and demo share: plan if needed, run the engine, show progress, map the result to an exit code.</summary>
internal static class SendRunner
{
    public static async Task<int> RunAsync(string campaignFile, string? db, SendRequest request, CancellationToken stopToken)
    {
        // System.CommandLine turns SIGINT/SIGTERM into this token (and keeps the process alive for Program's
        // ProcessTerminationTimeout): no new transactions start, those in flight finish and are recorded.
        using var announce = stopToken.Register(() => Console.Error.WriteLine("stopping: no new messages; finishing those in flight…"));
        // Config, templates and recipient columns are checked before anything is planned or sent.
        var location = StoreLocator.Resolve(db, campaignFile);
        Console.WriteLine(location.Line);
        var signer = TokenSigner.FromEnvironment();
        Console.WriteLine($"signing links with {signer.Describe()}");
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

            if (request.ResetInDoubt)
            {
                var reset = await store.ResetInDoubtAsync(campaign.Id, stopToken).ConfigureAwait(false);
                Console.WriteLine($"{reset} in-doubt recipient(s) will be sent again (duplicates accepted by the operator).");
            }

            if (request.ResetFailed)
            {
                var codes = request.FailedCodes;
                var reset = await store.ResetFailedAsync(campaign.Id, (code, text) => codes is null || codes.Matches(code, text), stopToken).ConfigureAwait(false);
                Console.WriteLine(codes is null
                    ? $"{reset} failed recipient(s) will be sent again."
                    : $"{reset} failed recipient(s) whose last reply matches {codes.Text} will be sent again.");
            }

            var returnPath = await BounceSendStep.BeforeAsync(campaign, stores, signer, stopToken).ConfigureAwait(false);
            var tuning = request.Tuning ?? SendTuning.Default;
            var options = new DeliveryEngineOptions
            {
                Dkim = session.Dkim,
                ReturnPath = returnPath,
                Guards = await BounceSendStep.GuardsAsync(campaign, stores, stopToken).ConfigureAwait(false),
                State = stores.State,
                Transcript = request.Verbose ? new ConsoleTranscript() : null,
                Lease = tuning.Lease,
                StoreOutageTimeout = tuning.StoreOutageTimeout,
            };
            var engine = new DeliveryEngine(campaign, store, session.Compiled, suppression, options);
            var result = await RunWithProgressAsync(engine, stopToken).ConfigureAwait(false);
            await BounceSendStep.AfterAsync(campaign, stores, signer).ConfigureAwait(false);
            PrintSummary(campaign.Id, result, engine.Snapshot());
            return result.Stop switch
            {
                DeliveryStop.Completed => CliRunner.Ok,
                DeliveryStop.Unreachable => CliRunner.Unreachable,
                DeliveryStop.Paused => CliRunner.Paused,
                DeliveryStop.StoreUnavailable => CliRunner.StoreUnavailable,
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
        var caption = new List<string>();
        if (p.RelaysDown > 0)
        {
            caption.Add($"[yellow]{p.RelaysDown} relay(s) not usable: {Markup.Escape(RelayProblems(p))}[/]");
        }

        if (p.Store is { } store)
        {
            caption.Add($"[yellow]{Markup.Escape(store)}[/]");
        }

        if (WorkersSummary(p) is { } workers)
        {
            caption.Add(Markup.Escape(workers));
        }

        if (caption.Count > 0)
        {
            table.Caption(string.Join("\n", caption));
        }

        return table;
    }

    internal static string FormatLine(DeliveryProgress p)
    {
        var rate = Rate(p);
        return string.Create(CultureInfo.InvariantCulture,
            $"sent={p.Sent} failed={p.Failed} in_doubt={p.InDoubt} skipped={p.Skipped} remaining={p.Remaining} rate={rate:F0}/s eta={Eta(p, rate)}{(p.RelaysDown > 0 ? $" relays_down={p.RelaysDown} ({RelayProblems(p)})" : "")}"
            + $"{(p.Lost > 0 ? $" lost={p.Lost}" : "")}{(WorkersSummary(p) is { } workers ? " " + workers : "")}{(p.Store is { } store ? $" store: {store}" : "")}");
    }

    /// <summary><c>workers=3 [ID on HOST held=120 renewed=2s ago, …]</c>; null for a sender alone on its campaign.</summary>
    private static string? WorkersSummary(DeliveryProgress p)
    {
        if (p.Workers is not { Count: > 1 } workers)
        {
            return null;
        }

        var now = DateTimeOffset.UtcNow;
        var each = workers.Select(w => string.Create(CultureInfo.InvariantCulture,
            $"{w.WorkerId} on {w.Host} held={w.RowsHeld} renewed={Math.Max(0, (now - w.LastRenewalAt).TotalSeconds):F0}s ago{(w.Live ? "" : " (lease expired)")}"));
        return $"workers={workers.Count(w => w.Live)} [{string.Join(", ", each)}]";
    }

    /// <summary>Each relay that is not up, with its last reply or error: <c>smtp-1: connection refused</c>.</summary>
    private static string RelayProblems(DeliveryProgress p) =>
        string.Join("; ", (p.Relays ?? []).Where(r => r.State is RelayHealthState.Down or RelayHealthState.OutOfRotation)
            .Select(r => $"{r.Name}: {r.LastError ?? r.LastReply ?? r.State.ToName()}"));

    private static double Rate(DeliveryProgress p) =>
        p.Elapsed.TotalSeconds > 0.5 ? p.SentThisRun / p.Elapsed.TotalSeconds : 0;

    private static string Eta(DeliveryProgress p, double rate) =>
        rate > 0 ? TimeSpan.FromSeconds(Math.Ceiling(p.Remaining / rate)).ToString("c", CultureInfo.InvariantCulture) : "-";

    private static void PrintSummary(string campaignId, DeliveryResult result, DeliveryProgress progress)
    {
        var c = result.Counts;
        if (result.Resumed is { } resumed)
        {
            Console.WriteLine($"continuing the campaign paused since {resumed.Since.ToLocalTime():yyyy-MM-dd HH:mm:ss}: {resumed.Reason}");
        }

        if (result.RecoveredInDoubt > 0)
        {
            Console.WriteLine($"{result.RecoveredInDoubt} recipient(s) were left 'sending' by an interrupted run and are now in_doubt (not resent; see 'herald retry --in-doubt --accept-duplicates').");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"campaign {campaignId}: total={c.Total} sent={c.Sent} failed={c.Failed} in_doubt={c.InDoubt} skipped={c.Skipped} pending={c.Pending}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"this run: {progress.SentThisRun} sent in {progress.Elapsed.TotalSeconds:F1}s ({(progress.Elapsed > TimeSpan.Zero ? progress.SentThisRun / progress.Elapsed.TotalSeconds : 0):F0}/s), {result.Commits} group commits"));
        if (progress.Lost > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{progress.Lost} recipient(s) claimed by this run were taken over by another sender (this one's lease ran out) and not sent by this one."));
        }

        switch (result.Stop)
        {
            case DeliveryStop.Stopped:
                Console.WriteLine("stopped before the end: run 'herald send' again to resume.");
                break;
            case DeliveryStop.Unreachable:
                Console.Error.WriteLine($"no relay could be reached: {result.Reason}. Nothing was marked failed; run 'herald send' again to resume.");
                break;
            case DeliveryStop.Paused:
                Console.Error.WriteLine($"paused: {result.Reason}");
                Console.Error.WriteLine($"nothing was marked failed for it ({c.Pending} recipient(s) pending); fix it, then run 'herald send' again to continue.");
                break;
            case DeliveryStop.StoreUnavailable:
                Console.Error.WriteLine($"error: {result.Reason}. Nothing was sent without a durable mark; what was in flight is in_doubt at most. Run 'herald send' again to resume once the store is back.");
                break;
        }
    }
}

/// <summary><c>send --verbose</c>: one stderr line per SMTP line, <c>[smtp-1#2] &gt; MAIL FROM:&lt;…&gt;</c>.</summary>
internal sealed class ConsoleTranscript : ISmtpTranscript
{
    public void Write(string relay, int connection, char direction, string line) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{relay}#{connection}] {direction} {line}"));
}
