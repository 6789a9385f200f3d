using System.Net;

namespace Herald.Tracking.Tests;

/// <summary>The spool: no event is lost while the store is down, and a restart replays what was spooled.</summary>
public sealed class EventPipelineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Events_are_spooled_while_the_store_fails_and_replayed_when_it_returns()
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
        Assert.Equal(25, File.ReadAllLines(server.SpoolPath).Length);
        Assert.Equal(0, await server.AllEventCountAsync());

        flaky.Broken = false;
        await server.FlushAsync();

        Assert.Equal(25, (await server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
        Assert.False(File.Exists(server.SpoolPath));
    }

    [Fact]
    public async Task A_restarted_server_replays_the_spool_it_finds()
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
            }

            using var unsubscribe = await first.Client.SendAsync(ServerHarness.OneClick(ServerHarness.UnsubscribePath("r5")), Ct);

            // Stopping writes what is buffered: the store is still down, so it lands in the spool.
            await first.StopAsync();
            Assert.Equal(11, File.ReadAllLines(first.SpoolPath).Length);
        }

        await using var second = await ServerHarness.StartAsync(directory: dir);

        var counts = await second.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct);
        Assert.Equal((10, 1), (counts.Opens, counts.Unsubscribes));
        Assert.Equal(["r5@shop.example.com"], await second.Store.FindSuppressedAsync(["r5@shop.example.com"], Ct));
        Assert.False(File.Exists(second.SpoolPath));
    }

    [Fact]
    public async Task Replaying_the_same_spool_twice_counts_each_event_once()
    {
        FlakyStore? flaky = null;
        await using var server = await ServerHarness.StartAsync(wrapStore: s => flaky = new FlakyStore(s));
        flaky!.Broken = true;
        for (var i = 0; i < 5; i++)
        {
            using var response = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);
        }

        await server.FlushAsync();
        var spooled = File.ReadAllText(server.SpoolPath);
        flaky.Broken = false;
        await server.FlushAsync();

        // A crash after the replay but before the spool's removal leaves the same file behind.
        File.WriteAllText(server.SpoolPath, spooled + "{\"torn\":");
        server.KeepDirectory = true;
        await using var restarted = await ServerHarness.StartAsync(directory: server.Directory);

        Assert.Equal(5, (await restarted.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Clicks);
    }
}
