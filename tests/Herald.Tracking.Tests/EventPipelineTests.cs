using System.Net;
using System.Text;
using Herald.Tracking.Journal;

namespace Herald.Tracking.Tests;

/// <summary>
/// The journal: every answered event is on disk before its response, moved to the store afterwards, kept while the
/// store is down, taken over from servers that are gone, bounded, and never counted twice.
/// </summary>
public sealed class EventPipelineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_answered_click_is_in_the_journal_before_its_response_and_in_the_store_after()
    {
        FlakyStore? flaky = null;
        await using var server = await ServerHarness.StartAsync(wrapStore: s => flaky = new FlakyStore(s));
        flaky!.Broken = true;

        using var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);

        // No flush: the response itself means the event is written.
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(1, server.JournalLines());
        flaky.Broken = false;
        await server.FlushAsync();
        Assert.Equal(1, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
    }

    [Fact]
    public async Task A_click_is_not_answered_until_its_group_is_written()
    {
        var disk = new DiskFullSwitch();
        await using var server = await ServerHarness.StartAsync(journal: o => new JournalOptions
        {
            Directory = o.Directory,
            OpenSegment = path => new FailingStream(new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0), disk),
        });
        disk.Hold.Reset();

        var click = server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);

        // The write is held: the response must wait for it (a bounded wait that a response sent early would beat).
        Assert.True(disk.Writing.Wait(TimeSpan.FromSeconds(30), Ct), "the journal never wrote");
        Assert.NotSame(click, await Task.WhenAny(click, Task.Delay(500, Ct)));
        disk.Hold.Set();
        using var response = await click.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(1, server.JournalLines());
    }

    [Fact]
    public async Task Events_wait_in_the_journal_while_the_store_fails_and_are_moved_when_it_returns()
    {
        FlakyStore? flaky = null;
        await using var server = await ServerHarness.StartAsync(wrapStore: s => flaky = new FlakyStore(s));
        flaky!.Broken = true;

        for (var i = 0; i < 25; i++)
        {
            using var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath($"r{1 + (i % 5)}")), Ct);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        }

        await server.FlushAsync();
        Assert.Equal(25, server.JournalLines());
        Assert.Equal(0, await server.AllEventCountAsync());
        Assert.Contains("herald_events_pending 25\n", await server.Client.GetStringAsync("/metrics", Ct), StringComparison.Ordinal);

        flaky.Broken = false;
        await server.FlushAsync();

        Assert.Equal(25, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
        Assert.Contains("herald_events_pending 0\n", await server.Client.GetStringAsync("/metrics", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stored_journal_files_are_deleted_so_the_journal_stays_small()
    {
        await using var server = await ServerHarness.StartAsync(journal: o => new JournalOptions { Directory = o.Directory, SegmentBytes = 4096, MaxBytes = 1024 * 1024 });

        for (var i = 0; i < 200; i++)
        {
            using var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: i + 1)), Ct);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        }

        await server.FlushAsync();
        await server.FlushAsync();

        // 200 events are ~60 kB, many 4 kB files: only the lock and the file being written are left.
        Assert.Equal(200, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
        var files = server.JournalFiles();
        Assert.Single(files, f => f.EndsWith(".lock", StringComparison.Ordinal));
        Assert.True(files.Count(f => f.EndsWith(".events", StringComparison.Ordinal)) <= 2, string.Join(", ", files));
        Assert.True(new DirectoryInfo(server.JournalDirectory).GetFiles("*.events").Sum(f => f.Length) < 3 * 4096);
    }

    [Fact]
    public async Task A_clean_stop_with_everything_stored_leaves_no_journal_file()
    {
        await using var server = await ServerHarness.StartAsync();
        using (var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        }

        await server.StopAsync();

        Assert.Equal(1, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
        Assert.Empty(server.JournalFiles());
    }

    [Fact]
    public async Task A_restarted_server_moves_the_journal_a_stopped_one_left_while_the_store_was_down()
    {
        string dir;
        FlakyStore? flaky = null;
        await using (var first = await ServerHarness.StartAsync(wrapStore: s => flaky = new FlakyStore(s)))
        {
            dir = first.Directory;
            first.KeepDirectory = true;
            flaky!.Broken = true;
            for (var i = 0; i < 10; i++)
            {
                using var response = await first.Client.SendAsync(ServerHarness.Get(ServerHarness.OpenPath($"r{1 + (i % 5)}")), Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            using var unsubscribe = await first.Client.SendAsync(ServerHarness.OneClick(ServerHarness.UnsubscribePath("r5")), Ct);
            Assert.Equal(HttpStatusCode.OK, unsubscribe.StatusCode);

            // The store is still down at the stop: the events stay in the journal.
            await first.StopAsync();
            Assert.Equal(11, first.JournalLines());
        }

        await using var second = await ServerHarness.StartAsync(directory: dir);
        await second.FlushAsync();

        var counts = await second.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct);
        Assert.Equal((10, 1), (counts.Opens, counts.Unsubscribes));
        Assert.Equal(["r5@shop.example.com"], await second.Store.FindSuppressedAsync(["r5@shop.example.com"], Ct));
        // Only the second server's own lock (and its empty file) remain.
        Assert.Equal(0, second.JournalLines());
        Assert.Single(second.JournalFiles(), f => f.EndsWith(".lock", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_journal_whose_owner_is_gone_is_taken_over_and_one_whose_owner_lives_is_not()
    {
        await using var server = await ServerHarness.StartAsync();
        var lines = new StringBuilder();
        for (var i = 0; i < 3; i++)
        {
            lines.Append(JournalLine(Guid.NewGuid(), "r1")).Append('\n');
        }

        // A dead server's files: an unlocked lock file, a complete file and one whose last write a kill tore.
        var dead = Path.Combine(server.JournalDirectory, "deadhost-4242-0000abcd");
        File.WriteAllText(dead + ".lock", "pid=4242\n");
        File.WriteAllText(dead + ".000001.events", lines.ToString());
        File.WriteAllText(dead + ".000002.events", JournalLine(Guid.NewGuid(), "r2") + "\n" + JournalLine(Guid.NewGuid(), "r2")[..40]);
        // A live server's files: its lock is held.
        var live = Path.Combine(server.JournalDirectory, "livehost-4343-0000abcd");
        await using var held = new FileStream(live + ".lock", FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        File.WriteAllText(live + ".000001.events", JournalLine(Guid.NewGuid(), "r3") + "\n");

        await server.FlushAsync();

        var events = await server.EventsAsync();
        Assert.Equal(["r1", "r1", "r1", "r2"], events.Select(e => e.RecipientId).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(server.JournalFiles(), f => f.StartsWith("deadhost", StringComparison.Ordinal));
        Assert.Contains("livehost-4343-0000abcd.000001.events", server.JournalFiles());
    }

    [Fact]
    public void A_taken_over_file_is_deleted_as_soon_as_its_last_events_are_stored_and_the_lock_with_the_last_file()
    {
        var directory = Directory.CreateTempSubdirectory("herald-adopt-").FullName;
        try
        {
            var dead = Path.Combine(directory, "deadhost-4242-0000abcd");
            File.WriteAllText(dead + ".lock", "pid=4242\n");
            File.WriteAllText(dead + ".000001.events", string.Concat(Enumerable.Range(0, 3).Select(_ => JournalLine(Guid.NewGuid(), "r1") + "\n")));
            File.WriteAllText(dead + ".000002.events", JournalLine(Guid.NewGuid(), "r2") + "\n");
            var adopted = Assert.Single(AdoptedJournal.FindDead(directory, "own-1-00000001", new HashSet<string>(), legacySpool: null));
            using (adopted)
            {
                var first = adopted.ReadBatch(2)!;
                adopted.MarkStored(first);
                Assert.True(File.Exists(dead + ".000001.events"), "a file with events not yet stored was deleted");

                var rest = adopted.ReadBatch(100)!;
                Assert.Single(rest.Events);
                adopted.MarkStored(rest);
                // A server that stops now (no further read) leaves nothing of this file behind.
                Assert.False(File.Exists(dead + ".000001.events"), "the stored file waited for the next read to be deleted");

                var last = adopted.ReadBatch(100)!;
                Assert.Equal("r2", Assert.Single(last.Events).RecipientId);
                adopted.MarkStored(last);
                Assert.False(File.Exists(dead + ".000002.events"));
                Assert.True(adopted.Done);
            }

            Assert.Empty(Directory.GetFiles(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Moving_the_same_journal_twice_counts_each_event_once()
    {
        await using var server = await ServerHarness.StartAsync();
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        var text = string.Concat(ids.Select(id => JournalLine(id, "r1") + "\n"));

        // A server killed after its events reached the store but before it deleted its files leaves them behind.
        File.WriteAllText(Path.Combine(server.JournalDirectory, "a-1-00000001.000001.events"), text);
        await server.FlushAsync();
        File.WriteAllText(Path.Combine(server.JournalDirectory, "a-1-00000001.000001.events"), text);
        await server.FlushAsync();

        Assert.Equal(5, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
    }

    [Fact]
    public async Task Two_servers_on_one_folder_keep_their_own_files_and_lose_nothing()
    {
        FlakyStore? flaky = null;
        await using var first = await ServerHarness.StartAsync(wrapStore: s => flaky = new FlakyStore(s));
        await using var second = await ServerHarness.StartAsync(directory: first.Directory);
        // Disposed first; the first server removes the folder.
        second.KeepDirectory = true;
        flaky!.Broken = true;

        var tasks = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 40; i++)
        {
            var client = i % 2 == 0 ? first.Client : second.Client;
            tasks.Add(client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: i + 1)), Ct));
        }

        foreach (var response in await Task.WhenAll(tasks))
        {
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            response.Dispose();
        }

        Assert.Equal(2, first.JournalFiles().Count(f => f.EndsWith(".lock", StringComparison.Ordinal)));
        await second.FlushAsync();
        // The second server searched the folder and left the live first server's journal alone.
        Assert.Equal(20, first.JournalLines(own: true));
        Assert.Equal(20, await first.AllEventCountAsync());
        flaky.Broken = false;
        await first.FlushAsync();

        var links = (await first.EventsAsync()).Select(e => e.LinkNumber).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 40), links);
    }

    [Fact]
    public async Task A_full_journal_refuses_with_503_and_takes_events_again_once_the_store_caught_up()
    {
        FlakyStore? flaky = null;
        await using var server = await ServerHarness.StartAsync(
            wrapStore: s => flaky = new FlakyStore(s),
            journal: o => new JournalOptions { Directory = o.Directory, MaxBytes = 8 * 1024 });
        flaky!.Broken = true;

        var answered = 0;
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 200 && refused is null; i++)
        {
            var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: i + 1)), Ct);
            if (response.StatusCode == HttpStatusCode.Redirect)
            {
                answered++;
                response.Dispose();
            }
            else
            {
                refused = response;
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        using (var health = await server.Client.GetAsync("/healthz", Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }

        Assert.Contains("herald_events_refused_total 1\n", await server.Client.GetStringAsync("/metrics", Ct), StringComparison.Ordinal);
        Assert.InRange(answered, 10, 100);

        flaky.Broken = false;
        await server.FlushAsync();
        using (var again = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: 999)), Ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        }

        await server.FlushAsync();
        Assert.Equal("ok", await server.Client.GetStringAsync("/healthz", Ct));
        // Every answered click, and not the refused one.
        var links = (await server.EventsAsync()).Select(e => e.LinkNumber).ToHashSet();
        Assert.Equal(answered + 1, links.Count);
        Assert.DoesNotContain(answered + 1, links);
    }

    [Fact]
    public async Task A_full_disk_refuses_with_503_leaves_no_partial_event_and_recovers()
    {
        var disk = new DiskFullSwitch();
        await using var server = await ServerHarness.StartAsync(journal: o => new JournalOptions
        {
            Directory = o.Directory,
            OpenSegment = path => new FailingStream(new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0), disk),
        });
        using (var ok = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: 1)), Ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        }

        disk.Full = true;
        using (var refused = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: 2)), Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        using (var health = await server.Client.GetAsync("/healthz", Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }

        disk.Full = false;
        using (var again = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(link: 3)), Ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        }

        await server.FlushAsync();
        Assert.Equal([1, 3], (await server.EventsAsync()).Select(e => e.LinkNumber).Order());
        Assert.Equal("ok", await server.Client.GetStringAsync("/healthz", Ct));
    }

    private static string JournalLine(Guid id, string recipient) =>
        $$"""{"Id":"{{id}}","At":"2026-03-01T10:00:00+00:00","Kind":2,"CampaignId":"{{ServerHarness.Campaign}}","RecipientId":"{{recipient}}","LinkNumber":1,"Target":"https://shop.example.com/","Method":"GET","UserAgent":"Mozilla/5.0","ClientNetwork":"127.0.0.0/24","Flags":0,"Email":null}""";

    private sealed class DiskFullSwitch
    {
        public volatile bool Full;

        /// <summary>Writes wait while this is reset.</summary>
        public ManualResetEventSlim Hold { get; } = new(initialState: true);

        /// <summary>Set when a write started.</summary>
        public ManualResetEventSlim Writing { get; } = new();
    }

    /// <summary>A journal file on a disk that fills up: while full, a write puts half its bytes down, then fails as ENOSPC does.</summary>
    private sealed class FailingStream(FileStream inner, DiskFullSwitch disk) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => true;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            disk.Writing.Set();
            disk.Hold.Wait(TimeSpan.FromSeconds(60));
            if (disk.Full)
            {
                inner.Write(buffer[..(buffer.Length / 2)]);
                throw new IOException("No space left on device");
            }

            inner.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => inner.SetLength(value);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
