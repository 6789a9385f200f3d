
namespace Herald.Store.Tests;

/// <summary>The campaign state contract (pause, relay health) every backend must pass.</summary>
public abstract class CampaignStateStoreContractTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 30, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A migrated store; called again for "another process" on the same store.</summary>
    protected abstract Task<ICampaignStateStore> CreateStoreAsync();

    [Fact]
    public async Task A_pause_is_recorded_seen_by_another_instance_and_cleared_by_resume()
    {
        await using var writer = await CreateStoreAsync();
        await using var reader = await CreateStoreAsync();
        Assert.Null(await reader.GetPauseAsync("c1", Ct));

        var pause = new CampaignPause("relay smtp-1: 530 5.7.0 Authentication required", T0, "host:42:abc");
        await writer.PauseAsync("c1", pause, Ct);

        Assert.Equal(pause, await reader.GetPauseAsync("c1", Ct));
        Assert.Null(await reader.GetPauseAsync("c2", Ct));
        Assert.Equal(pause, await writer.ResumeAsync("c1", Ct));
        Assert.Null(await reader.GetPauseAsync("c1", Ct));
        Assert.Null(await writer.ResumeAsync("c1", Ct));
    }

    [Fact]
    public async Task A_later_pause_replaces_the_reason()
    {
        await using var store = await CreateStoreAsync();
        await store.PauseAsync("c1", new CampaignPause("first", T0, null), Ct);

        await store.PauseAsync("c1", new CampaignPause("hard-bounce rate 6 % (limit 5 %)", T0.AddMinutes(5), "w2"), Ct);

        Assert.Equal(new CampaignPause("hard-bounce rate 6 % (limit 5 %)", T0.AddMinutes(5), "w2"), await store.GetPauseAsync("c1", Ct));
    }

    [Fact]
    public async Task Relay_health_is_kept_per_campaign_and_relay_name_and_the_last_write_wins()
    {
        await using var store = await CreateStoreAsync();
        await store.SaveRelayHealthAsync("c1",
        [
            new RelayHealth("smtp-2", RelayHealthState.Down, null, "connection refused", T0),
            new RelayHealth("smtp-1", RelayHealthState.Up, null, null, T0),
        ], Ct);
        await store.SaveRelayHealthAsync("c2", [new RelayHealth("smtp-1", RelayHealthState.Up, null, null, T0)], Ct);

        await store.SaveRelayHealthAsync("c1", [new RelayHealth("smtp-1", RelayHealthState.OutOfRotation, "535 5.7.8 authentication failed", "535 5.7.8 authentication failed", T0.AddSeconds(3))], Ct);

        await using var other = await CreateStoreAsync();
        Assert.Equal(
            [
                new RelayHealth("smtp-1", RelayHealthState.OutOfRotation, "535 5.7.8 authentication failed", "535 5.7.8 authentication failed", T0.AddSeconds(3)),
                new RelayHealth("smtp-2", RelayHealthState.Down, null, "connection refused", T0),
            ],
            await other.GetRelayHealthAsync("c1", Ct));
        Assert.Equal(RelayHealthState.Up, Assert.Single(await other.GetRelayHealthAsync("c2", Ct)).State);
        Assert.Empty(await other.GetRelayHealthAsync("c3", Ct));
    }
}
