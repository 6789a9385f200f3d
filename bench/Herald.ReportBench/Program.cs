// The report benchmark's store: a campaign of N recipients (sent over five minutes) and E events shaped like a real
// one (opens over a week, Apple Mail Privacy Protection prefetches, clicks on 20 links of which 5 are personalized,
// security scanners on arrival, unsubscribes, and one recipient flooding one link a million times), written straight
// into the store by SQL (SQLite) or binary COPY (PostgreSQL). Deterministic (fixed seed), so runs compare.
//
//   generate --db PATH|postgresql://USER@HOST:PORT/DB --out DIR [--recipients 1000000] [--events 5000000]
//   report   --db PATH|postgresql://… [--campaign bench] [--profile]   one report in process: wall time and peak memory
//                                                                       (--profile: each store query alone first)
//   append   --db PATH|postgresql://… [--events 200000] [--batch 1000] [--recipients 100000]
//            the write path: events appended in batches through the tracking store, rollups kept and not (a fresh store each)
//   backfill --db PATH|postgresql://…   the report rollups recomputed from the events (what the upgrade to them runs), timed
//   migrate --db PATH|postgresql://…    the store's schema upgraded to this herald's (what a writing command runs), timed
using System.Diagnostics;
using System.Globalization;
using Herald.Postgres;
using Herald.ReportBench;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

var command = args.Length > 0 ? args[0] : "help";
var db = Option("--db", null) ?? throw new ArgumentException("--db is required");
var campaignId = Option("--campaign", "bench")!;
switch (command)
{
    case "generate":
    {
        var recipients = int.Parse(Option("--recipients", "1000000")!, CultureInfo.InvariantCulture);
        var events = int.Parse(Option("--events", "5000000")!, CultureInfo.InvariantCulture);
        var outDir = Option("--out", "report-bench")!;
        var clock = Stopwatch.StartNew();
        var data = BenchData.Generate(campaignId, recipients, events);
        Console.WriteLine($"generated {data.Recipients.Length:N0} recipients and {data.Events.Count:N0} events in {clock.Elapsed.TotalSeconds:F1} s");
        BenchData.WriteCampaign(outDir, campaignId, db);
        clock.Restart();
        if (IsPostgres(db))
        {
            await PostgresWriter.WriteAsync(PostgresAddress.Parse(db), data);
        }
        else
        {
            await SqliteWriter.WriteAsync(db, data);
        }

        Console.WriteLine($"written and indexed in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    case "report":
    {
        await using IReportStore store = IsPostgres(db)
            ? new PostgresReportStore(PostgresConnections.Open(PostgresAddress.Parse(db)), ownsConnections: true)
            : new SqliteReportStore(db);
        if (args.Contains("--profile"))
        {
            Console.WriteLine("first run (includes JIT and a cold page cache):");
            await Profile.RunAsync(store, campaignId);
            Console.WriteLine("second run:");
            await Profile.RunAsync(store, campaignId);
        }

        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var report = await CampaignReportBuilder.BuildAsync(store, new EventWindow(campaignId), null, null, null, CancellationToken.None);
        var took = clock.Elapsed;
        self.Refresh();
        if (args.Contains("--twice"))
        {
            Console.WriteLine(FormattableString.Invariant($"first report {took.TotalSeconds:F2} s, {(self.TotalProcessorTime - cpu).TotalSeconds:F2} s cpu (JIT, cold cache); second:"));
            cpu = self.TotalProcessorTime;
            clock.Restart();
            report = await CampaignReportBuilder.BuildAsync(store, new EventWindow(campaignId), null, null, null, CancellationToken.None);
            took = clock.Elapsed;
            self.Refresh();
        }

        Console.WriteLine(FormattableString.Invariant($"cpu {(self.TotalProcessorTime - cpu).TotalSeconds:F2} s"));
        Console.WriteLine(FormattableString.Invariant(
            $"report of {report.Delivery.Total:N0} recipients, {report.Raw.Opens + report.Raw.Clicks + report.Raw.Unsubscribes:N0} events: {took.TotalSeconds:F2} s, peak working set {self.PeakWorkingSet64 >> 20} MB"));
        Console.WriteLine(FormattableString.Invariant(
            $"  human open rate {report.HumanRates["open_rate"]:P1}, click rate {report.HumanRates["click_through_rate"]:P1}, volume bots {report.Bots.VolumeRecipients}, links {report.Links.Count}, timeline {report.Timeline.Count} buckets"));
        return 0;
    }

    case "backfill":
    {
        var clock = Stopwatch.StartNew();
        if (IsPostgres(db))
        {
            await using var tracking = new PostgresTrackingStore(PostgresConnections.Open(PostgresAddress.Parse(db)), ownsConnections: true);
            await tracking.RebuildRollupsAsync(CancellationToken.None);
        }
        else
        {
            await using var tracking = new SqliteTrackingStore(db);
            await tracking.RebuildRollupsAsync(CancellationToken.None);
        }

        Console.WriteLine(FormattableString.Invariant($"rollups backfilled from the events in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    case "migrate":
    {
        var clock = Stopwatch.StartNew();
        if (IsPostgres(db))
        {
            await using var tracking = new PostgresTrackingStore(PostgresConnections.Open(PostgresAddress.Parse(db)), ownsConnections: true);
            await tracking.MigrateAsync(CancellationToken.None);
        }
        else
        {
            await using var tracking = new SqliteTrackingStore(db);
            await tracking.MigrateAsync(CancellationToken.None);
        }

        Console.WriteLine(FormattableString.Invariant($"store upgraded in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    case "append":
        await AppendBench.RunAsync(
            db, int.Parse(Option("--events", "200000")!, CultureInfo.InvariantCulture), int.Parse(Option("--batch", "1000")!, CultureInfo.InvariantCulture),
            int.Parse(Option("--recipients", "100000")!, CultureInfo.InvariantCulture));
        return 0;

    default:
        Console.Error.WriteLine("usage: generate --db ADDRESS --out DIR [--recipients N] [--events N] | report --db ADDRESS [--campaign ID] | append --db ADDRESS [--events N] [--batch N] [--recipients N] | backfill --db ADDRESS | migrate --db ADDRESS");
        return 2;
}

string? Option(string name, string? fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

static bool IsPostgres(string address) => address.StartsWith("postgresql://", StringComparison.Ordinal) || address.StartsWith("postgres://", StringComparison.Ordinal);
