using System.Text.RegularExpressions;
using Herald.Bounces;
using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>The bounce-rate guard in the engine: a list that hard-bounces pauses the campaign and leaves the rest pending.</summary>
public sealed partial class BounceRateGuardEngineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^hard-bounce rate (\d+\.\d+) % over the last 100 attempts \(limit 5 %\)$")]
    private static partial Regex HardBounceReason();

    [Fact]
    public async Task A_relay_that_refuses_one_recipient_in_ten_with_5_1_1_pauses_the_campaign_and_a_new_run_starts_a_fresh_window()
    {
        var refusing = true;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c => Volatile.Read(ref refusing) && Index(c.Recipient!) % 10 == 0
                ? SmtpAction.Reply(550, $"5.1.1 <{c.Recipient}>: Recipient address rejected: User unknown in virtual mailbox table")
                : null,
        });
        await using var harness = await EngineHarness.CreateAsync(1000);
        await using var bounces = await BouncesAsync(harness);
        var campaign = EngineHarness.Campaign(t => t.Connections = 1, server.Port);

        var paused = await harness.SendAsync(campaign, Options(harness, bounces, new BounceOptions()));

        Assert.Equal(DeliveryStop.Paused, paused.Stop);
        // The rule applies from 100 attempts: the first look at the rate already finds it over 5 %.
        var match = HardBounceReason().Match(paused.Reason ?? "");
        Assert.True(match.Success, paused.Reason);
        Assert.InRange(double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 8, 12);
        var attempted = paused.Counts.Sent + paused.Counts.Failed;
        Assert.InRange(attempted, 100, 102);
        Assert.Equal((1000 - attempted, 0L), (paused.Counts.Pending, paused.Counts.Sending));
        Assert.All((await harness.RecordsAsync()).Where(r => r.State == DeliveryState.Failed), r => Assert.Equal(0, Index(r.Email) % 10));
        Assert.Equal(paused.Reason, (await harness.State.GetPauseAsync("test", Ct))?.Reason);

        // The list was cleaned: the next run is not held to the old window, and it continues to the end.
        Volatile.Write(ref refusing, false);
        var resumed = await harness.SendAsync(campaign, Options(harness, bounces, new BounceOptions()));

        Assert.Equal(DeliveryStop.Completed, resumed.Stop);
        Assert.Equal(paused.Reason, resumed.Resumed?.Reason);
        Assert.Equal((1000 - paused.Counts.Failed, paused.Counts.Failed), (resumed.Counts.Sent, resumed.Counts.Failed));
        Assert.Null(await harness.State.GetPauseAsync("test", Ct));
    }

    [Fact]
    public async Task Hard_bounces_that_arrive_after_delivery_pause_the_campaign_through_the_poll()
    {
        await using var harness = await EngineHarness.CreateAsync(1000);
        await using var bounces = await BouncesAsync(harness);
        var guard = new Signalling(new BounceRateGuard("test", new BounceOptions { HardBounceWindow = 100 }, bounces,
            async ct => (await harness.Store.GetCountsAsync("test", ct)).Sent, continuesComplaintPause: false));
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c =>
            {
                if (c.Transaction == 101)
                {
                    // 100 were delivered; DSNs for 6 of them come in while this message waits for its reply.
                    var dsns = Enumerable.Range(0, 6).Select(i => new BounceEvent(Guid.NewGuid(), DateTimeOffset.UtcNow, "test", $"r{i * 7}",
                        EngineHarness.Address(i * 7), BounceType.Hard, "5.1.1", "user unknown", BounceSource.Dsn)).ToList();
                    bounces.AppendAsync(dsns, CancellationToken.None).Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                    guard.Paused.Task.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                }

                return null;
            },
        });

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port), new DeliveryEngineOptions { Guards = [guard] });

        Assert.Equal((DeliveryStop.Paused, "hard-bounce rate 6.0 % over the last 100 attempts (limit 5 %)"), (result.Stop, result.Reason));
        Assert.True(guard.Paused.Task.IsCompleted);
        Assert.InRange(result.Counts.Sent, 101, 102);
        Assert.Equal((1000 - result.Counts.Sent, 0L), (result.Counts.Pending, result.Counts.Failed));
    }

    private static int Index(string email) => int.Parse(email.AsSpan(4, email.IndexOf('@', StringComparison.Ordinal) - 4), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<SqliteBounceStore> BouncesAsync(EngineHarness harness)
    {
        var bounces = new SqliteBounceStore(harness.DbPath);
        await bounces.MigrateAsync(Ct);
        return bounces;
    }

    private static DeliveryEngineOptions Options(EngineHarness harness, IBounceStore bounces, BounceOptions options) => new()
    {
        Guards = [new BounceRateGuard("test", options, bounces, async ct => (await harness.Store.GetCountsAsync("test", ct)).Sent, continuesComplaintPause: false)],
    };

    /// <summary>The real guard, telling the test when its poll decided to pause.</summary>
    private sealed class Signalling(IDeliveryGuard inner) : IDeliveryGuard
    {
        public TaskCompletionSource Paused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? Observe(AttemptObservation attempt) => inner.Observe(attempt);

        public async ValueTask<string?> PollAsync(CancellationToken cancellationToken)
        {
            var reason = await inner.PollAsync(cancellationToken);
            if (reason is not null)
            {
                Paused.TrySetResult();
            }

            return reason;
        }
    }
}
