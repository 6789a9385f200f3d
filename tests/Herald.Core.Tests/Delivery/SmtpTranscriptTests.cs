using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

/// <summary><c>send --verbose</c>: each relay's conversation, without message bodies and without credentials.</summary>
public sealed class SmtpTranscriptTests
{
    [Fact]
    public async Task Transcript_has_every_command_and_reply_but_no_body_and_no_credentials()
    {
        var user = $"HERALD_TEST_USER_{Guid.NewGuid():N}";
        var password = $"HERALD_TEST_PASSWORD_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(user, "alice");
        Environment.SetEnvironmentVariable(password, "correct horse battery staple");
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Auth = true, Chunking = true });
        await using var harness = await EngineHarness.CreateAsync(2);
        var campaign = EngineHarness.WithRelays(EngineHarness.Campaign(server.Port),
        [
            new RelayOptions
            {
                Url = new Uri($"smtp://127.0.0.1:{server.Port}"),
                Name = "smtp-1",
                Connections = 1,
                StartTls = StartTlsMode.None,
                UsernameEnv = user,
                PasswordEnv = password,
            },
        ]);
        var transcript = new RecordingTranscript();

        var result = await harness.SendAsync(campaign, new DeliveryEngineOptions { Transcript = transcript });

        Assert.Equal(2, result.Counts.Sent);
        var lines = transcript.Lines;
        Assert.All(lines, l => Assert.Equal(("smtp-1", 1), (l.Relay, l.Connection)));
        var text = lines.Select(l => $"{l.Direction} {l.Line}").ToList();
        Assert.Contains("< 220 scriptable.test ESMTP scriptable", text);
        Assert.Contains("> EHLO shop.example.com", text);
        Assert.Contains("> AUTH PLAIN ***", text);
        Assert.Contains("< 235 2.7.0 Authentication successful", text);
        Assert.Contains($"> MAIL FROM:<news@shop.example.com>", text);
        Assert.Contains($"> RCPT TO:<{EngineHarness.Address(1)}>", text);
        Assert.Contains("> BDAT 0 LAST", text);
        Assert.Contains(text, l => l.StartsWith("> [message content: ", StringComparison.Ordinal) && l.EndsWith(" bytes, not logged]", StringComparison.Ordinal));
        var all = string.Join("\n", text);
        var token = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("\0alice\0correct horse battery staple"));
        Assert.DoesNotContain(token, all, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", all, StringComparison.Ordinal);
        // The body (TestMessageFactory writes "Hello r0" and a line of x) never appears.
        Assert.DoesNotContain("Hello r", all, StringComparison.Ordinal);
        Assert.DoesNotContain("xxxxxxxx", all, StringComparison.Ordinal);
        Assert.DoesNotContain("Subject:", all, StringComparison.Ordinal);
    }

    private sealed class RecordingTranscript : ISmtpTranscript
    {
        private readonly List<(string Relay, int Connection, char Direction, string Line)> _lines = [];

        public IReadOnlyList<(string Relay, int Connection, char Direction, string Line)> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public void Write(string relay, int connection, char direction, string line)
        {
            lock (_lines)
            {
                _lines.Add((relay, connection, direction, line));
            }
        }
    }
}
