using System.Text;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>
/// Addresses on the wire: domains as A-labels, always; a non-ASCII local part only with SMTPUTF8 (RFC 6531), and
/// skipped with a reason by a relay that does not offer it.
/// </summary>
public sealed class WireAddressTests
{
    private const string Utf8Local = "zoë@example.com";
    private const string UnicodeDomain = "ann@bücher.example";

    [Fact]
    public async Task Without_SMTPUTF8_domains_go_out_as_A_labels_and_a_non_ASCII_local_part_is_skipped_with_a_reason()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync([Utf8Local, UnicodeDomain, "bob@example.com"]);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Names = true, server.Port));

        Assert.Equal((DeliveryStop.Completed, 2L, 1L), (result.Stop, result.Counts.Sent, result.Counts.Skipped));
        var skipped = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Skipped, "unsendable:smtputf8"), (skipped.State, skipped.SkipReason));
        Assert.Equal("the local part is not ASCII and relay smtp-1 does not offer SMTPUTF8", skipped.SmtpText);
        var commands = server.Commands.Select(c => c.Line).ToList();
        Assert.Contains("RCPT TO:<ann@xn--bcher-kva.example>", commands);
        Assert.DoesNotContain(commands, c => c.Contains("zo", StringComparison.Ordinal) || c.Contains("bücher", StringComparison.Ordinal));
        Assert.DoesNotContain(commands, c => c.Contains("SMTPUTF8", StringComparison.Ordinal));
        // The message's own headers name the domain by its A-label too.
        var received = server.Messages.Single(m => m.Recipient == "ann@xn--bcher-kva.example");
        Assert.Contains("ann@xn--bcher-kva.example", Encoding.UTF8.GetString(received.Data), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_SMTPUTF8_a_non_ASCII_local_part_is_sent_with_the_SMTPUTF8_parameter_and_UTF8_headers()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { SmtpUtf8 = true, Chunking = true });
        await using var harness = await EngineHarness.CreateAsync([Utf8Local, "bob@example.com"]);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port));

        Assert.Equal((DeliveryStop.Completed, 2L), (result.Stop, result.Counts.Sent));
        var commands = server.Commands.Select(c => c.Line).ToList();
        Assert.Contains("MAIL FROM:<news@shop.example.com> SMTPUTF8", commands);
        Assert.Contains($"RCPT TO:<{Utf8Local}>", commands);
        // Only the recipient that needs it uses it.
        Assert.Equal(1, commands.Count(c => c.EndsWith("SMTPUTF8", StringComparison.Ordinal)));
        var received = Assert.Single(server.Messages, m => m.Recipient == Utf8Local);
        Assert.Contains($"To: {Utf8Local}", Encoding.UTF8.GetString(received.Data), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ann@example.com", "ann@example.com", false)]
    [InlineData("ann@bücher.example", "ann@xn--bcher-kva.example", false)]
    [InlineData("zoë@bücher.example", "zoë@xn--bcher-kva.example", true)]
    public void Wire_form_uses_A_labels_and_says_when_SMTPUTF8_is_needed(string address, string wire, bool needsUtf8)
    {
        Assert.True(Envelope.TryWireForm(address, out var form, out var utf8));
        Assert.Equal((wire, needsUtf8), (form, utf8));
    }
}
