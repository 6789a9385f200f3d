using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Benchmarks;

/// <summary>
/// One group commit of the SQLite ledger: outcomes for the previous batch plus <c>sending</c> marks for the next one
/// (what the engine's ledger writes), per batch size. Divide by <see cref="Batch"/> for the cost per email.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 6, invocationCount: 12)]
public class LedgerBenchmarks
{
    private const string Campaign = "bench";
    private const string Worker = "bench-worker";
    private string _directory = "";
    private SqliteDeliveryStore? _store;
    private ClaimedRow[] _ids = [];
    private int _next;

    [Params(32, 256, 1024)]
    public int Batch { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Directory.CreateTempSubdirectory("herald-ledger-bench-").FullName;
        _store = await SqliteDeliveryStore.OpenAsync(Path.Combine(_directory, "herald.db"), CancellationToken.None);
        await _store.MigrateAsync(CancellationToken.None);
        var rows = Batch * 110; // 8 iterations × 12 invocations, plus JIT and the first batch
        var context = new byte[700];
        var writer = await _store.BeginPlanAsync(Campaign, "fingerprint", CancellationToken.None);
        await using (writer)
        {
            var entries = new List<PlanEntry>(rows);
            for (var i = 0; i < rows; i++)
            {
                entries.Add(new PlanEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), $"r{i}@example.com", context, null, $"<{i}@bench.example>"));
            }

            await writer.AddAsync(entries, CancellationToken.None);
            await writer.CommitAsync(CancellationToken.None);
        }

        var claimed = await _store.ClaimAsync(Campaign, Worker, rows, TimeSpan.FromHours(1), CancellationToken.None);
        _ids = claimed.Select(c => c.Claimed).ToArray();
        // The first batch is marked outside the measurement so every commit has outcomes and marks.
        await _store.CommitAsync(Worker, _ids[..Batch], [], CancellationToken.None);
        _next = Batch;
    }

    [Benchmark]
    public async Task<int> GroupCommit()
    {
        var previous = _ids.AsSpan(_next - Batch, Batch).ToArray();
        var outcomes = previous.Select(row => new Outcome(row.Id, row.Token, DeliveryState.Sent, 250, "2.0.0 Ok: queued as ABC123", "127.0.0.1:25")).ToList();
        var marks = _ids.AsSpan(_next, Batch).ToArray();
        _next += Batch;
        var marked = await _store!.CommitAsync(Worker, marks, outcomes, CancellationToken.None);
        return marked.Marked.Count;
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
