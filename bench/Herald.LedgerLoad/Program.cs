// The ledger's capacity: how many recipients per second one store takes through claim → `sending` mark → outcome,
// with the group commits Herald makes (a claim of a batch, then one commit that marks the new batch and records the
// outcomes of the previous one), for S simulated senders at once. Each PostgreSQL sender has its own connection pool,
// as a separate `herald send` process would; SQLite allows one sender process, so its senders share one store.
//
//   Herald.LedgerLoad --db PATH|postgresql://… [--recipients N] [--senders S] [--batch B] [--seconds T]
using System.Diagnostics;
using System.Globalization;
using Herald;
using Herald.Postgres;
using Herald.Sqlite;
using Herald.Store;

var options = Args.Parse(args);
var campaign = $"ledger-load-{Guid.NewGuid():N}"[..24];
var lease = TimeSpan.FromMinutes(5);
var isPostgres = PostgresAddress.IsPostgresAddress(options.Db);

async Task<IDeliveryStore> OpenAsync() => isPostgres
    ? await PostgresDeliveryStore.OpenAsync(PostgresAddress.Parse(options.Db), CancellationToken.None)
    : await SqliteDeliveryStore.OpenAsync(options.Db, CancellationToken.None);

var planner = await OpenAsync();
var planTimer = Stopwatch.StartNew();
await using (var writer = await planner.BeginPlanAsync(campaign, "ledger-load", CancellationToken.None))
{
    // ~700 bytes of render context per recipient, like the standard campaign's joined products.
    var context = new byte[700];
    Array.Fill(context, (byte)'x');
    var batch = new List<PlanEntry>(10_000);
    for (var i = 0; i < options.Recipients; i++)
    {
        var id = i.ToString(CultureInfo.InvariantCulture);
        batch.Add(new PlanEntry(id, $"r{id}@example.com", context, null, $"<{id}.{campaign}@bench.example>"));
        if (batch.Count == batch.Capacity)
        {
            await writer.AddAsync(batch, CancellationToken.None);
            batch.Clear();
        }
    }

    await writer.AddAsync(batch, CancellationToken.None);
    await writer.CommitAsync(CancellationToken.None);
}

Console.Error.WriteLine($"planned {options.Recipients} recipients in {planTimer.Elapsed.TotalSeconds:F1} s");
var stores = new List<IDeliveryStore> { planner };
for (var i = 1; i < options.Senders; i++)
{
    stores.Add(isPostgres ? await OpenAsync() : planner);
}

var finished = 0L;
var commits = 0L;
var claims = 0L;
var lost = 0L;
var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds));
var timer = Stopwatch.StartNew();

async Task SenderAsync(IDeliveryStore store, string worker)
{
    await store.RegisterWorkerAsync(WorkerInfo.ForThisProcess(campaign, worker), lease, CancellationToken.None);
    IReadOnlyList<WorkItem> previous = [];
    while (!limit.IsCancellationRequested)
    {
        var items = await store.ClaimAsync(campaign, worker, options.Batch, lease, CancellationToken.None);
        Interlocked.Increment(ref claims);
        var started = Stopwatch.GetTimestamp();
        var result = await store.CommitAsync(worker, items.Select(i => i.Claimed).ToList(), previous.Select(Sent).ToList(), CancellationToken.None);
        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Interlocked.Increment(ref commits);
        Interlocked.Add(ref finished, previous.Count);
        Interlocked.Add(ref lost, result.Lost.Count);
        previous = items.Where(i => result.Marked.Contains(i.Id)).ToList();
        if (items.Count == 0)
        {
            break;
        }
    }

    if (previous.Count > 0)
    {
        await store.CommitAsync(worker, [], previous.Select(Sent).ToList(), CancellationToken.None);
        Interlocked.Add(ref finished, previous.Count);
    }
}

await Task.WhenAll(stores.Select((store, i) => Task.Run(() => SenderAsync(store, $"sender-{i}"))));
var seconds = timer.Elapsed.TotalSeconds;
var counts = await planner.GetCountsAsync(campaign, CancellationToken.None);
var sorted = latencies.Order().ToArray();
double Percentile(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"backend={(isPostgres ? "postgresql" : "sqlite")} senders={options.Senders} batch={options.Batch} recipients={finished} seconds={seconds:F1} "
    + $"rate={finished / seconds:F0}/s per_sender={finished / seconds / options.Senders:F0}/s claims={claims} commits={commits} "
    + $"commit_ms_p50={Percentile(0.5):F1} commit_ms_p99={Percentile(0.99):F1} lost={lost} sent_in_store={counts.Sent}"));

foreach (var store in stores.Distinct())
{
    await store.DisposeAsync();
}

return finished > 0 && lost == 0 && counts.Sent == finished ? 0 : 1;

static Outcome Sent(WorkItem item) => new(item.Id, item.Token, DeliveryState.Sent, 250, "2.0.0 Ok: queued as ABC123", "127.0.0.1:25");

internal sealed record Args(string Db, int Recipients, int Senders, int Batch, int Seconds)
{
    public static Args Parse(string[] args)
    {
        string? db = null;
        int recipients = 200_000, senders = 1, batch = 128, seconds = 120;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new HeraldException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--db": db = value; break;
                case "--recipients": recipients = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--senders": senders = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new HeraldException($"unknown argument {args[i]}");
            }

            i++;
        }

        return new Args(db ?? throw new HeraldException("--db PATH|postgresql://… is required"), recipients, senders, batch, seconds);
    }
}
