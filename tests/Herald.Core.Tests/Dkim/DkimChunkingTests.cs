using System.Text;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Dkim;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using DkimSigner = Herald.Dkim.DkimSigner;

namespace Herald.Core.Tests.Dkim;

/// <summary>A message sent by BDAT is not dot-stuffed: its signature is computed over those bytes and verifies as well.</summary>
public sealed class DkimChunkingTests
{
    private static readonly DkimKey Rsa = DkimKey.Generate(DkimAlgorithm.RsaSha256, 2048);

    [Fact]
    public void A_BDAT_message_carries_a_signature_that_verifies_and_equals_the_DATA_one_once_unstuffed()
    {
        using var signer = new DkimSigner(new DkimOptions
        {
            Domain = "shop.example.com",
            Selector = "rsa1",
            Key = new DkimKeySource("/dev/null", null, default) { Label = "test" },
            Algorithm = DkimAlgorithm.RsaSha256,
        }, Rsa, time: new ManualTimeProvider()); // a fixed clock: the two signatures compared byte for byte carry one t=
        using var message = new MimeMessage((IEnumerable<Header>)[]) { Subject = "picks", MessageId = "1@shop.example.com", Date = DateTimeOffset.UtcNow };
        message.From.Add(new MailboxAddress("Shop", "news@shop.example.com"));
        message.To.Add(new MailboxAddress("", "to@example.com"));
        message.Body = new TextPart("plain") { Text = ".a dot line\r\n..two dots\r\nend\r\n", ContentTransferEncoding = ContentEncoding.SevenBit };

        using var chunked = WireMessage.Create(message, signer, dotStuff: false);
        using var data = WireMessage.Create(message, signer, dotStuff: true);

        var raw = Encoding.ASCII.GetString(chunked.Bytes.Span);
        Assert.Contains("\r\n.a dot line\r\n..two dots\r\n", raw, StringComparison.Ordinal);
        Assert.False(raw.EndsWith("\r\n.\r\n", StringComparison.Ordinal));
        using var received = MimeMessage.Load(new MemoryStream(chunked.Bytes.ToArray()), TestContext.Current.CancellationToken);
        var signature = received.Headers.First(h => h.Id == HeaderId.DkimSignature);
        Assert.True(new DkimVerifier(new Locator()).Verify(received, signature, TestContext.Current.CancellationToken));
        // The same bytes reach the receiver either way (a DATA receiver removes the stuffing and the terminator).
        var unstuffed = Encoding.ASCII.GetString(data.Bytes.Span)[..^3].Replace("\r\n..", "\r\n.", StringComparison.Ordinal);
        Assert.Equal(raw, unstuffed);
    }

    private sealed class Locator : DkimPublicKeyLocatorBase
    {
        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            GetPublicKey(Rsa.DnsRecordText);

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
