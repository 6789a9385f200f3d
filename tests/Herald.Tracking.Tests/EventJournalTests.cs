using Herald.Store;
using Herald.Tracking.Journal;

namespace Herald.Tracking.Tests;

/// <summary>The journal itself, without a server: its writer and its store side running at once, as under load.</summary>
public sealed class EventJournalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Appending_while_the_store_side_deletes_stored_files_loses_nothing_and_reads_each_event_once()
    {
        var folder = Directory.CreateTempSubdirectory("herald-journal-");
        try
        {
            // Files of 4 KiB (~20 events), so the store side deletes a file every few groups while the writer appends to
            // the last one and starts new ones.
            using var journal = EventJournal.Open(new JournalOptions { Directory = folder.FullName, SegmentBytes = 4096, MaxBytes = 1L << 30 }, "stress");
            const int appenders = 8;
            const int perAppender = 25_000;
            var seen = new HashSet<Guid>();
            var moving = true;
            var mover = Task.Run(
                () =>
                {
                    while (Volatile.Read(ref moving) || journal.PendingEvents > 0)
                    {
                        Ct.ThrowIfCancellationRequested();
                        if (journal.ReadBatch(500) is not { } batch)
                        {
                            // Nothing new yet: give the core to the writer rather than spin on it (2-core machines).
                            Thread.Yield();
                            continue;
                        }

                        foreach (var e in batch.Events)
                        {
                            Assert.True(seen.Add(e.Id), $"event {e.Id} read twice");
                        }

                        journal.MarkStored(batch);
                    }
                },
                Ct);

            var writers = Enumerable.Range(0, appenders).Select(a => Task.Run(
                async () =>
                {
                    for (var i = 0; i < perAppender; i++)
                    {
                        var e = new TrackingEvent(Guid.NewGuid(), DateTimeOffset.UtcNow, TrackingEventKind.Click, "stress", $"r{a}-{i}", 1,
                            "https://shop.example.com/item", "GET", "Mozilla/5.0", "127.0.0.0/24", EventFlags.None);
                        Assert.True(await journal.AppendAsync(e, out var refusal), $"event refused: {refusal} {journal.Problem}");
                    }
                },
                Ct)).ToArray();

            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromMinutes(2), Ct);
            Volatile.Write(ref moving, false);
            await mover.WaitAsync(TimeSpan.FromMinutes(1), Ct);

            Assert.Equal(appenders * perAppender, journal.WrittenEvents);
            Assert.Equal(appenders * perAppender, seen.Count);
            Assert.Equal(journal.WrittenEvents, journal.StoredEvents);
            // Stored files were deleted as the store side went: what is left is the file being written.
            var left = folder.GetFiles("*.events").Length;
            Assert.True(left <= 2, $"{left} journal files left");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
