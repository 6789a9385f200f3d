using System.Collections.Concurrent;
using System.Text;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Tracking;

namespace Herald.Core.Tests.Delivery;

/// <summary>The envelope sender is chosen per message: a variable envelope return path names each recipient.</summary>
public sealed class ReturnPathDeliveryTests
{
    [Fact]
    public async Task Each_message_goes_out_with_its_own_return_path_naming_its_recipient()
    {
        var signer = new TokenSigner(Encoding.UTF8.GetBytes("engine-key-0123456789"));
        var senders = new ConcurrentDictionary<string, string>();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c =>
            {
                senders[c.Recipient!] = c.Sender!;
                return null;
            },
        });
        await using var harness = await EngineHarness.CreateAsync(5);
        var engine = new DeliveryEngine(EngineHarness.Campaign(server.Port), harness.Store, new TestMessageFactory(), options: new DeliveryEngineOptions
        {
            ReturnPath = item => signer.CreateReturnPath("test", item.Id, "bounces.shop.example.com"),
        });

        var result = await engine.RunAsync(TestContext.Current.CancellationToken);

        Assert.Equal(5, result.Counts.Sent);
        await foreach (var record in harness.Store.ReadRecipientsAsync("test", TestContext.Current.CancellationToken))
        {
            var sender = senders[record.Email];
            Assert.EndsWith("@bounces.shop.example.com", sender, StringComparison.Ordinal);
            Assert.True(signer.TryVerifyReturnPath(sender, out var token), sender);
            Assert.Equal(record.Id, token.Row);
            Assert.True(token.IsFor("test"));
        }

        Assert.Equal(5, senders.Values.Distinct().Count());
    }

    [Fact]
    public async Task Without_a_return_path_every_message_goes_out_from_the_from_address()
    {
        var senders = new ConcurrentBag<string>();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c =>
            {
                senders.Add(c.Sender!);
                return null;
            },
        });
        await using var harness = await EngineHarness.CreateAsync(3);

        await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(["news@shop.example.com"], senders.Distinct());
    }
}
