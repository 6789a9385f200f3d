using Herald.Campaigns;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

public sealed class RelayStateTests
{
    [Fact]
    public async Task Health_snapshots_are_published_in_the_order_they_were_taken_so_the_last_one_is_the_relays_state()
    {
        var published = new List<RelayHealth>();
        Task? rival = null;
        RelayState relay = null!;
        relay = new RelayState(new RelayOptions { Url = new Uri("smtp://127.0.0.1:1"), Name = "smtp-1" }, new DeliveryOptions(), TimeProvider.System, health =>
        {
            if (health.State == RelayHealthState.Up && health.LastReply is not null && rival is null)
            {
                // A second connection takes the relay out of rotation while this connection's older snapshot is on
                // its way to the recorder. It gets a bounded chance to overtake; it must not be able to.
                rival = Task.Run(() => relay.TakeOutOfRotation("530 5.7.0 Authentication required"));
                rival.Wait(TimeSpan.FromMilliseconds(300));
            }

            lock (published)
            {
                published.Add(health);
            }
        });
        relay.Connected();

        relay.Observe(new AttemptResult(AttemptKind.Rejected, 530, "530 5.7.0 Authentication required", false), Blame.Recipient);
        Assert.NotNull(rival);
        await rival.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(RelayHealthState.OutOfRotation, relay.Health.State);
        lock (published)
        {
            Assert.Equal(relay.Health, published[^1]);
        }
    }
}
