using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>
/// Failures about the sender or the relay, not the recipient, never mark recipients failed: the relay leaves the
/// rotation with its reason, its recipients stay pending with their attempt not counted, and with no relay left the
/// campaign pauses, recorded in the store.
/// </summary>
public sealed class RelayGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_530_to_MAIL_FROM_pauses_the_campaign_naming_the_relay_and_its_reply_and_fails_no_one()
    {
        // The case: this marked 50 of 50 recipients failed in 0.9 s, and send exited 0.
        var fixedRelay = false;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnMail = _ => Volatile.Read(ref fixedRelay) ? null : SmtpAction.Reply(530, "5.7.0 Authentication required"),
        });
        await using var harness = await EngineHarness.CreateAsync(50);
        var campaign = EngineHarness.Campaign(t => t.Names = true, server.Port);

        var paused = await harness.SendAsync(campaign);

        Assert.Equal(DeliveryStop.Paused, paused.Stop);
        Assert.Equal("relay smtp-1: 530 5.7.0 Authentication required", paused.Reason);
        Assert.Equal((50L, 0L), (paused.Counts.Pending, paused.Counts.Failed));
        Assert.All(await harness.RecordsAsync(), r => Assert.Equal((DeliveryState.Pending, 0), (r.State, r.Attempts)));
        Assert.Empty(server.Messages);
        // One refusal is proof: the relay left the rotation at once instead of trying every recipient.
        Assert.InRange(server.Commands.Count(c => c.Line.StartsWith("MAIL", StringComparison.Ordinal)), 1, 2);
        var pause = await harness.State.GetPauseAsync("test", Ct);
        Assert.Equal("relay smtp-1: 530 5.7.0 Authentication required", pause?.Reason);
        var health = Assert.Single(await harness.State.GetRelayHealthAsync("test", Ct));
        Assert.Equal((RelayHealthState.OutOfRotation, "530 5.7.0 Authentication required"), (health.State, health.LastReply));

        // Fix the relay, run send again: it continues, and the pause is gone.
        Volatile.Write(ref fixedRelay, true);
        var resumed = await harness.SendAsync(campaign);

        Assert.Equal((DeliveryStop.Completed, 50L), (resumed.Stop, resumed.Counts.Sent));
        Assert.Equal(pause, resumed.Resumed);
        Assert.Null(await harness.State.GetPauseAsync("test", Ct));
        Assert.All(await harness.RecordsAsync(), r => Assert.Equal((DeliveryState.Sent, 1), (r.State, r.Attempts)));
        Assert.Equal(RelayHealthState.Up, Assert.Single(await harness.State.GetRelayHealthAsync("test", Ct)).State);
    }

    [Theory]
    [InlineData(550, "5.7.1 Sender address rejected: not owned by user")]
    [InlineData(553, "5.1.8 Sender domain does not exist")]
    public async Task Any_5xx_to_MAIL_FROM_is_about_the_sender_and_pauses(int code, string text)
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnMail = _ => SmtpAction.Reply(code, text) });
        await using var harness = await EngineHarness.CreateAsync(10);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Equal($"relay 127.0.0.1:{server.Port}: {code} {text}", result.Reason);
        Assert.Equal(10, result.Counts.Pending);
    }

    [Fact]
    public async Task Policy_blocks_for_many_recipients_in_a_row_take_the_relay_out_and_fail_no_one()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = _ => SmtpAction.Reply(554, "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"),
        });
        await using var harness = await EngineHarness.CreateAsync(40);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => { t.PolicyStreak = 5; t.Names = true; }, server.Port));

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.StartsWith("relay smtp-1: 554 5.7.1 Service unavailable; client host blocked", result.Reason, StringComparison.Ordinal);
        Assert.Contains("5 policy refusals in a row", result.Reason, StringComparison.Ordinal);
        Assert.Equal((40L, 0L), (result.Counts.Pending, result.Counts.Failed));
        Assert.All(await harness.RecordsAsync(), r => Assert.Equal(0, r.Attempts));
        Assert.InRange(server.Commands.Count(c => c.Line.StartsWith("RCPT", StringComparison.Ordinal)), 5, 5 + 2);
    }

    [Fact]
    public async Task Policy_refusals_after_the_final_dot_without_enhanced_codes_are_recognized_by_their_words()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnFinalDot = _ => SmtpAction.Reply(554, "Message rejected as spam") });
        await using var harness = await EngineHarness.CreateAsync(20);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.PolicyStreak = 4, server.Port));

        Assert.Equal((DeliveryStop.Paused, 0L), (result.Stop, result.Counts.Failed));
        Assert.Contains("554 Message rejected as spam", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_storm_of_temporary_failures_takes_the_relay_out_without_counting_attempts()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnRcpt = _ => SmtpAction.Reply(451, "4.7.1 Rate limit exceeded, try again later") });
        await using var harness = await EngineHarness.CreateAsync(30);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => { t.TransientStreak = 6; t.MaxAttempts = 2; }, server.Port));

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Contains("451 4.7.1 Rate limit exceeded", result.Reason, StringComparison.Ordinal);
        Assert.Contains("6 temporary failures in a row", result.Reason, StringComparison.Ordinal);
        // With max_attempts 2, counted attempts would have failed recipients by now.
        Assert.Equal((30L, 0L), (result.Counts.Pending, result.Counts.Failed));
        Assert.All(await harness.RecordsAsync(), r => Assert.Equal(0, r.Attempts));
    }

    [Fact]
    public async Task A_421_storm_that_closes_every_connection_pauses_too()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnMail = _ => SmtpAction.Reply(421, "4.7.0 Too many connections, closing") });
        await using var harness = await EngineHarness.CreateAsync(20);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.TransientStreak = 5, server.Port));

        Assert.Equal((DeliveryStop.Paused, 0L), (result.Stop, result.Counts.Failed));
        Assert.Contains("421 4.7.0 Too many connections", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_relay_out_of_rotation_leaves_its_recipients_to_the_others_and_the_campaign_completes()
    {
        await using var refusing = ScriptableSmtpServer.Start(new SmtpScript { OnMail = _ => SmtpAction.Reply(530, "5.7.0 Authentication required") });
        await using var good = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(30);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Names = true, refusing.Port, good.Port));

        Assert.Equal((DeliveryStop.Completed, 30L), (result.Stop, result.Counts.Sent));
        Assert.Equal(30, good.Messages.Count);
        Assert.All(await harness.RecordsAsync(), r => Assert.Equal(1, r.Attempts));
        var health = (await harness.State.GetRelayHealthAsync("test", Ct)).ToDictionary(h => h.Name);
        Assert.Equal(RelayHealthState.OutOfRotation, health["smtp-1"].State);
        Assert.Equal("530 5.7.0 Authentication required", health["smtp-1"].LastReply);
        Assert.Equal(RelayHealthState.Up, health["smtp-2"].State);
        Assert.Null(await harness.State.GetPauseAsync("test", Ct));
    }

    [Fact]
    public async Task Refused_credentials_at_AUTH_pause_with_the_relays_reply()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Auth = true, OnAuth = _ => SmtpAction.Reply(535, "5.7.8 authentication failed") });
        await using var harness = await EngineHarness.CreateAsync(5);
        var campaign = WithCredentials(EngineHarness.Campaign(t => t.Names = true, server.Port), StartTlsMode.None);

        var result = await harness.SendAsync(campaign);

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Equal("relay smtp-1: 535 5.7.8 authentication failed", result.Reason);
        Assert.Equal(5, result.Counts.Pending);
        Assert.DoesNotContain(server.Commands, c => c.Line.StartsWith("MAIL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AUTH_is_never_sent_in_clear_text_unless_the_relay_says_starttls_none()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Auth = true });
        await using var harness = await EngineHarness.CreateAsync(3);

        // The default, starttls: optional, against a relay that offers no STARTTLS.
        var refused = await harness.SendAsync(WithCredentials(EngineHarness.Campaign(server.Port), StartTlsMode.Optional));

        Assert.Equal(DeliveryStop.Paused, refused.Stop);
        Assert.Contains("AUTH not sent: the connection is not encrypted", refused.Reason, StringComparison.Ordinal);
        Assert.Empty(server.AuthAttempts);
        Assert.Equal(3, refused.Counts.Pending);

        // The operator's explicit choice.
        var allowed = await harness.SendAsync(WithCredentials(EngineHarness.Campaign(server.Port), StartTlsMode.None));

        Assert.Equal((DeliveryStop.Completed, 3L), (allowed.Stop, allowed.Counts.Sent));
        Assert.Contains("alice:s3cret", server.AuthAttempts);
    }

    [Fact]
    public async Task A_relay_that_cannot_be_reached_is_named_with_its_socket_error()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Refuse = true });
        await using var harness = await EngineHarness.CreateAsync(2);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => { t.UnreachableTimeout = TimeSpan.FromMilliseconds(600); t.Names = true; }, server.Port));

        Assert.Equal(DeliveryStop.Unreachable, result.Stop);
        Assert.Equal("relay smtp-1: connection refused", result.Reason);
        var health = Assert.Single(await harness.State.GetRelayHealthAsync("test", Ct));
        Assert.Equal((RelayHealthState.Down, "connection refused"), (health.State, health.LastError));
        Assert.Null(await harness.State.GetPauseAsync("test", Ct));
    }

    [Fact]
    public async Task A_failed_TLS_handshake_is_named_as_such()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { StartTls = true });
        await using var harness = await EngineHarness.CreateAsync(1);
        var campaign = EngineHarness.WithRelays(EngineHarness.Campaign(t => t.UnreachableTimeout = TimeSpan.FromMilliseconds(600), server.Port),
            [new RelayOptions { Url = new Uri($"smtp://127.0.0.1:{server.Port}"), Name = "smtp-1", Connections = 1, StartTls = StartTlsMode.Optional }]);

        var result = await harness.SendAsync(campaign);

        Assert.Equal(DeliveryStop.Unreachable, result.Stop);
        Assert.StartsWith("relay smtp-1: TLS handshake failed: ", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_5xx_greeting_refuses_us_and_pauses()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnConnect = _ => SmtpAction.Reply(554, "5.7.1 Your IP is on our blocklist") });
        await using var harness = await EngineHarness.CreateAsync(3);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Names = true, server.Port));

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Equal("relay smtp-1: 554 5.7.1 Your IP is on our blocklist", result.Reason);
    }

    [Fact]
    public async Task A_guard_pauses_the_campaign_with_its_reason_and_leaves_the_rest_pending()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(200);
        var guard = new CountingGuard(after: 20, "hard-bounce rate 6.0 % over the last 1,000 attempts (limit 5 %)");

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port), new DeliveryEngineOptions { Guards = [guard] });

        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Equal("hard-bounce rate 6.0 % over the last 1,000 attempts (limit 5 %)", result.Reason);
        // Transactions in flight finish; nothing new starts once the guard spoke.
        Assert.InRange(result.Counts.Sent, 20, 22);
        Assert.Equal(200 - result.Counts.Sent, result.Counts.Pending);
        Assert.Equal(0, result.Counts.Sending);
        Assert.Equal(result.Reason, (await harness.State.GetPauseAsync("test", Ct))?.Reason);
        Assert.All(guard.Seen, o => Assert.Equal((AttemptKind.Delivered, Blame.None, DeliveryState.Sent), (o.Result.Kind, o.Blame, o.State)));
    }

    [Fact]
    public async Task A_guard_that_learns_of_complaints_outside_the_dialogue_pauses_through_its_poll()
    {
        var complaints = 0;
        var polled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c =>
            {
                if (c.Transaction == 10)
                {
                    // A complaint arrives while this message waits for its reply; the reply comes once the guard told.
                    Interlocked.Exchange(ref complaints, 1);
                    polled.Task.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                }

                return null;
            },
        });
        await using var harness = await EngineHarness.CreateAsync(1000);
        var guard = new PollingGuard(() =>
        {
            if (Volatile.Read(ref complaints) == 0)
            {
                return null;
            }

            polled.TrySetResult();
            return "complaint rate 0.4 % (limit 0.3 %)";
        });

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port), new DeliveryEngineOptions { Guards = [guard] });

        Assert.Equal((DeliveryStop.Paused, "complaint rate 0.4 % (limit 0.3 %)"), (result.Stop, result.Reason));
        // The tenth reply is released by the poll itself, a moment before the engine acts on the pause. The one
        // connection may finish more messages in that moment (a reply takes about a millisecond here, and on a busy
        // machine the engine's next step can wait for a thread): a few, never the rest of the campaign.
        Assert.InRange(result.Counts.Sent, 10, 50);
        Assert.Equal(1000 - result.Counts.Sent, result.Counts.Pending);
    }

    [Fact]
    public async Task A_pause_recorded_by_another_sender_of_the_campaign_stops_this_one()
    {
        SignallingState? state = null;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c =>
            {
                if (c.Transaction == 5)
                {
                    // Another worker pauses the campaign while this message waits for its reply.
                    state!.PauseAsync("test", new CampaignPause("complaint rate 0.5 % (limit 0.3 %)", DateTimeOffset.UtcNow, "worker-2"), CancellationToken.None)
                        .Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                    state.Seen.Task.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                }

                return null;
            },
        });
        await using var harness = await EngineHarness.CreateAsync(1000);
        state = new SignallingState(harness.State);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port), new DeliveryEngineOptions { State = state });

        Assert.Equal((DeliveryStop.Paused, "complaint rate 0.5 % (limit 0.3 %)"), (result.Stop, result.Reason));
        // The fifth reply is released when the engine reads the pause, a moment before it acts on it. The one
        // connection may finish more messages in that moment (CI saw 7 once, on a busy machine, where "never a seventh"
        // was asserted): a few, never the rest of the campaign.
        Assert.InRange(result.Counts.Sent, 5, 50);
        Assert.Equal(1000 - result.Counts.Sent, result.Counts.Pending);
    }

    private static Campaign WithCredentials(Campaign campaign, StartTlsMode startTls)
    {
        var user = $"HERALD_TEST_USER_{Guid.NewGuid():N}";
        var password = $"HERALD_TEST_PASSWORD_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(user, "alice");
        Environment.SetEnvironmentVariable(password, "s3cret");
        var relay = campaign.Relays[0];
        return EngineHarness.WithRelays(campaign,
        [
            new RelayOptions
            {
                Url = relay.Url,
                Name = relay.Name,
                Connections = 1,
                StartTls = startTls,
                UsernameEnv = user,
                PasswordEnv = password,
            },
        ]);
    }

    private sealed class CountingGuard(int after, string reason) : IDeliveryGuard
    {
        private int _count;

        public List<AttemptObservation> Seen { get; } = [];

        public string? Observe(AttemptObservation attempt)
        {
            lock (Seen)
            {
                Seen.Add(attempt);
            }

            return Interlocked.Increment(ref _count) >= after ? reason : null;
        }

        public ValueTask<string?> PollAsync(CancellationToken cancellationToken) => ValueTask.FromResult<string?>(null);
    }

    private sealed class PollingGuard(Func<string?> poll) : IDeliveryGuard
    {
        public string? Observe(AttemptObservation attempt) => null;

        public ValueTask<string?> PollAsync(CancellationToken cancellationToken) => ValueTask.FromResult(poll());
    }

    /// <summary>The harness's state store, telling when the engine first read a pause.</summary>
    private sealed class SignallingState(ICampaignStateStore inner) : ICampaignStateStore
    {
        public TaskCompletionSource Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

        public Task PauseAsync(string campaignId, CampaignPause pause, CancellationToken cancellationToken) => inner.PauseAsync(campaignId, pause, cancellationToken);

        public Task<CampaignPause?> ResumeAsync(string campaignId, CancellationToken cancellationToken) => inner.ResumeAsync(campaignId, cancellationToken);

        public async Task<CampaignPause?> GetPauseAsync(string campaignId, CancellationToken cancellationToken)
        {
            var pause = await inner.GetPauseAsync(campaignId, cancellationToken);
            if (pause is not null)
            {
                Seen.TrySetResult();
            }

            return pause;
        }

        public Task SaveRelayHealthAsync(string campaignId, IReadOnlyList<RelayHealth> relays, CancellationToken cancellationToken) =>
            inner.SaveRelayHealthAsync(campaignId, relays, cancellationToken);

        public Task<IReadOnlyList<RelayHealth>> GetRelayHealthAsync(string campaignId, CancellationToken cancellationToken) =>
            inner.GetRelayHealthAsync(campaignId, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
