using System.Text;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Dkim;
using MimeKit;
using MimeKit.Cryptography;
using DkimSigner = Herald.Dkim.DkimSigner;
using Org.BouncyCastle.Crypto;

namespace Herald.Core.Tests.Dkim;

public class DkimSignerTests
{
    private static readonly DkimKey Rsa = DkimKey.Generate(DkimAlgorithm.RsaSha256, 2048);
    private static readonly DkimKey Ed = DkimKey.Generate(DkimAlgorithm.Ed25519Sha256);

    [Fact]
    public void Wire_message_carries_the_signatures_in_front_of_the_unchanged_message_bytes()
    {
        using var signer = Signer(DkimAlgorithm.Both);
        using var message = Message(".dot line\r\n..two\r\nend  \r\n\r\n");
        using var plain = WireMessage.Create(message);
        using var signed = WireMessage.Create(message, signer);
        var plainText = Encoding.ASCII.GetString(plain.Bytes.Span);
        var signedText = Encoding.ASCII.GetString(signed.Bytes.Span);

        Assert.StartsWith("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example.com; s=rsa1;", signedText, StringComparison.Ordinal);
        Assert.EndsWith(plainText, signedText, StringComparison.Ordinal);
        Assert.Contains("\r\nDKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=shop.example.com; s=ed1;", signedText, StringComparison.Ordinal);
        Assert.Equal(signedText.Length, signed.Length);
    }

    [Fact]
    public void Signatures_verify_with_MimeKit_and_break_when_the_body_changes()
    {
        using var signer = Signer(DkimAlgorithm.Both);
        using var message = Message("Hello\r\n.dot\r\n\tTabbed  text \r\n");
        var received = Receive(message, signer);
        var verifier = new DkimVerifier(new Locator());
        var signatures = received.Headers.Where(h => h.Id == HeaderId.DkimSignature).ToList();
        Assert.Equal(2, signatures.Count);
        Assert.All(signatures, s => Assert.True(verifier.Verify(received, s, TestContext.Current.CancellationToken), s.Value));

        ((TextPart)received.Body!).Text = "Hello\r\n.dot\r\n\tTabbed  text changed\r\n";
        Assert.All(signatures, s => Assert.False(verifier.Verify(received, s, TestContext.Current.CancellationToken)));
    }

    [Fact]
    public void Signed_headers_are_those_present_with_From_over_signed()
    {
        using var signer = Signer(DkimAlgorithm.RsaSha256);
        using var message = Message("x");
        var received = Receive(message, signer);
        var value = received.Headers[HeaderId.DkimSignature]!.Replace(" ", "", StringComparison.Ordinal).Replace("\t", "", StringComparison.Ordinal).Replace("\r\n", "", StringComparison.Ordinal);
        Assert.Contains("h=from:from:to:subject:date:message-id:mime-version:content-type:list-id;", value, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_longer_than_the_room_left_for_it_still_lands_in_front()
    {
        var options = Options(DkimAlgorithm.RsaSha256);
        var many = new DkimOptions { Domain = options.Domain, Selector = options.Selector, Key = options.Key, Headers = ["From", "X-Repeated"] };
        using var signer = new DkimSigner(many, Rsa);
        using var message = Message("x");
        for (var i = 0; i < 100; i++)
        {
            message.Headers.Add("X-Repeated", $"value {i}");
        }

        using var wire = WireMessage.Create(message, signer);
        Assert.StartsWith("DKIM-Signature: ", Encoding.ASCII.GetString(wire.Bytes.Span), StringComparison.Ordinal);
        Assert.True(wire.Bytes.Length > signer.EstimatedLength);
        var received = Receive(message, signer);
        Assert.True(new DkimVerifier(new Locator()).Verify(received, received.Headers.First(h => h.Id == HeaderId.DkimSignature), TestContext.Current.CancellationToken));
    }

    private static MimeMessage Receive(MimeMessage message, DkimSigner signer)
    {
        using var wire = WireMessage.Create(message, signer);
        // What a receiver keeps: the DATA without the terminator and with the stuffed dots removed.
        var text = Encoding.ASCII.GetString(wire.Bytes.Span)[..^3].Replace("\r\n..", "\r\n.", StringComparison.Ordinal);
        return MimeMessage.Load(new MemoryStream(Encoding.ASCII.GetBytes(text)), TestContext.Current.CancellationToken);
    }

    private static DkimSigner Signer(DkimAlgorithm algorithm) =>
        new(Options(algorithm), algorithm == DkimAlgorithm.Ed25519Sha256 ? Ed : Rsa, algorithm == DkimAlgorithm.Both ? Ed : null);

    private static DkimOptions Options(DkimAlgorithm algorithm) => new()
    {
        Domain = "shop.example.com",
        Selector = algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed1" : "rsa1",
        Key = new DkimKeySource("/dev/null", null, default) { Label = "test" },
        Algorithm = algorithm,
        Ed25519Selector = algorithm == DkimAlgorithm.Both ? "ed1" : null,
    };

    private static MimeMessage Message(string body)
    {
        var message = new MimeMessage((IEnumerable<Header>)[]) { Subject = "Soldes d'été ✨ pour vous", MessageId = "1@shop.example.com", Date = DateTimeOffset.UtcNow };
        message.From.Add(new MailboxAddress("Boutique Élégance", "news@shop.example.com"));
        message.To.Add(new MailboxAddress("", "to@example.com"));
        message.Headers.Add(HeaderId.MimeVersion, "1.0");
        message.Headers.Add("List-Id", "<news.shop.example.com>");
        message.Body = new TextPart("plain") { Text = body, ContentTransferEncoding = ContentEncoding.SevenBit };
        return message;
    }

    private sealed class Locator : DkimPublicKeyLocatorBase
    {
        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            GetPublicKey(selector == "ed1" ? Ed.DnsRecordText : Rsa.DnsRecordText);

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
