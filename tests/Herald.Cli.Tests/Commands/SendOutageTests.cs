using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// Real processes: a <c>herald send</c> of 20,000 recipients to a <c>herald sink --log</c> while this test holds the
/// SQLite ledger with <c>BEGIN EXCLUSIVE</c> for at least 40 s (longer than SQLite's 30 s busy timeout), and until the
/// send has said the store is unavailable: the send pauses, says why, resumes by itself and finishes, nobody accepted
/// twice. And a store that stays locked past <c>--store-outage-timeout</c>: exit code 5, and a rerun finishes.
/// </summary>
public sealed class SendOutageTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(300);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-send-outage-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Db => Path.Combine(_dir, "herald.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_send_whose_ledger_is_locked_for_40_seconds_pauses_resumes_and_finishes_without_duplicates()
    {
        const int recipients = 20_000;
        const int connections = 4;
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log);
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, connections);
            Assert.Equal(0, (await HeraldProcess.RunAsync(Bound, "prepare", campaign, "--db", Db)).Exit);
            using var send = HeraldProcess.Start(null, "send", campaign, "--db", Db);
            var output = Collect(send);
            try
            {
                await WaitForAsync(() => HeraldProcess.CountLines(log) >= 2_000, send, "the send never got going");

                int acceptedWhileLocked;
                await using (var holder = await HeraldProcess.LockSqliteAsync(Db))
                {
                    var lockedAt = Stopwatch.StartNew();
                    // Messages marked before the lock may still go out; after that, nothing is marked, so nothing is sent.
                    await WaitForAsync(() => lockedAt.Elapsed > TimeSpan.FromSeconds(3), send, "send exited while the store was locked");
                    var settled = HeraldProcess.CountLines(log);
                    await WaitForAsync(() => output.Any(l => l.Contains("store", StringComparison.Ordinal) && l.Contains("sending paused", StringComparison.Ordinal)),
                        send, "the progress line never said that the store holds sending up");
                    // The lock lasts 40 s: longer than SQLite's 30 s busy timeout, so store calls fail and are retried.
                    while (lockedAt.Elapsed < TimeSpan.FromSeconds(40))
                    {
                        Assert.False(send.HasExited, "send exited while the store was locked: " + string.Join("\n", output));
                        await Task.Delay(100, Ct);
                    }

                    // A store call fails only once SQLite's busy timeout has run out (30 s after the call began, later on
                    // a loaded machine), and the progress line says so at its next refresh: hold the lock until it has
                    // (bounded), instead of betting on the 10 s left of the 40.
                    await WaitForAsync(() => output.Any(l => l.Contains("store unavailable", StringComparison.Ordinal)),
                        send, "the progress line never said that the store is unavailable");
                    acceptedWhileLocked = HeraldProcess.CountLines(log) - settled;
                }

                Assert.Equal(0, acceptedWhileLocked);
                await send.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                Assert.True(send.ExitCode == 0, string.Join("\n", output));
            }
            finally
            {
                HeraldProcess.KillQuietly(send);
            }

            var accepted = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => l.Split('\t')[2]).ToList();
            Assert.Equal(accepted.Count, accepted.Distinct(StringComparer.Ordinal).Count());
            Assert.Equal(recipients, accepted.Count);
            var states = States();
            Assert.Equal(recipients, states.GetValueOrDefault(2));
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task A_store_locked_past_the_outage_timeout_exits_5_and_a_rerun_finishes()
    {
        const int recipients = 2_000;
        const int connections = 2;
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log, "--delay", "5ms");
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, connections);
            Assert.Equal(0, (await HeraldProcess.RunAsync(Bound, "prepare", campaign, "--db", Db)).Exit);
            using var send = HeraldProcess.Start(null, "send", campaign, "--db", Db, "--store-outage-timeout", "20s");
            var output = Collect(send);
            string error;
            try
            {
                await WaitForAsync(() => HeraldProcess.CountLines(log) >= 100, send, "the send never got going");
                await using (await HeraldProcess.LockSqliteAsync(Db))
                {
                    // The first failure comes after SQLite's 30 s busy timeout, then 20 s of retries.
                    await send.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                }

                error = await send.StandardError.ReadToEndAsync(Ct);
            }
            finally
            {
                HeraldProcess.KillQuietly(send);
            }

            Assert.True(send.ExitCode == 5, $"exit {send.ExitCode}: {error}\n{string.Join("\n", output)}");
            Assert.Contains("store was unavailable for 20 s", error, StringComparison.Ordinal);
            Assert.Contains("run 'herald send' again", error, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);

            var again = await HeraldProcess.RunAsync(Bound, "send", campaign, "--db", Db);
            Assert.True(again.Exit == 0, again.Out + again.Error);
            var accepted = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => l.Split('\t')[2]).ToList();
            Assert.Equal(accepted.Count, accepted.Distinct(StringComparer.Ordinal).Count());
            var states = States();
            // What was in flight when the first run gave up is in_doubt at most; everyone else was sent once.
            Assert.InRange(states.GetValueOrDefault(4), 0, connections);
            Assert.Equal(recipients, states.GetValueOrDefault(2) + states.GetValueOrDefault(4));
            Assert.InRange(accepted.Count, states.GetValueOrDefault(2), states.GetValueOrDefault(2) + states.GetValueOrDefault(4));
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    /// <summary>Every stdout line of the process, as it comes (stderr is left for the test to read at the end).</summary>
    private static ConcurrentQueue<string> Collect(Process process)
    {
        var lines = new ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            {
                lines.Enqueue(line);
            }
        }, CancellationToken.None);
        return lines;
    }

    private static async Task WaitForAsync(Func<bool> condition, Process process, string failure)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            Assert.False(process.HasExited, failure + " (the process exited)");
            await Task.Delay(20, Ct);
        }
    }

    private Dictionary<long, long> States()
    {
        using var connection = new SqliteConnection($"Data Source={Db};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM recipients GROUP BY state";
        using var reader = command.ExecuteReader();
        var states = new Dictionary<long, long>();
        while (reader.Read())
        {
            states[reader.GetInt64(0)] = reader.GetInt64(1);
        }

        return states;
    }
}
