using System.Buffers.Text;
using System.Text;
using Herald.Tracking;

namespace Herald.Core.Tests.Tracking;

public class TokenSignerTests
{
    private static readonly TokenSigner Signer = new(Encoding.UTF8.GetBytes("key-one-0123456789abcdef"));

    [Theory]
    [InlineData(TokenKind.Click, 3, "https://shop.example.com/p/1?a=b&c=é")]
    [InlineData(TokenKind.Open, 0, null)]
    [InlineData(TokenKind.Unsubscribe, 0, null)]
    public void Create_and_TryVerify_round_trip(TokenKind kind, int link, string? target)
    {
        var token = new TrackingToken(kind, "spring-2026", "cust-42", link, target);
        var text = Signer.Create(token);
        Assert.True(Signer.TryVerify(text, out var verified));
        Assert.Equal(token, verified);
        Assert.DoesNotContain('+', text);
        Assert.DoesNotContain('/', text);
    }

    [Fact]
    public void TryVerify_rejects_a_tampered_token()
    {
        var text = Signer.Create(new TrackingToken(TokenKind.Click, "c", "r", 1, "https://a.example/"));
        var bytes = Base64Url.DecodeFromChars(text);
        bytes[5] ^= 1;
        Assert.False(Signer.TryVerify(Base64Url.EncodeToString(bytes), out _));
        var chars = text.ToCharArray();
        chars[^1] = chars[^1] == 'A' ? 'B' : 'A';
        Assert.False(Signer.TryVerify(new string(chars), out _));
    }

    [Fact]
    public void TryVerify_rejects_truncated_empty_and_garbage_tokens()
    {
        var text = Signer.Create(new TrackingToken(TokenKind.Open, "c", "r", 0, null));
        for (var length = 0; length < text.Length; length++)
        {
            Assert.False(Signer.TryVerify(text.AsSpan(0, length), out _));
        }

        Assert.False(Signer.TryVerify("not base64!", out _));
        Assert.False(Signer.TryVerify("AAAA", out _));
    }

    [Fact]
    public void TryVerify_rejects_a_token_signed_with_another_key()
    {
        var other = new TokenSigner(Encoding.UTF8.GetBytes("key-two-0123456789abcdef"));
        var text = other.Create(new TrackingToken(TokenKind.Click, "c", "r", 1, "https://a.example/"));
        Assert.False(Signer.TryVerify(text, out _));
        Assert.True(other.TryVerify(text, out _));
    }

    [Fact]
    public void TryVerify_rejects_overlong_tokens()
    {
        Assert.False(Signer.TryVerify(new string('A', TokenSigner.MaxTokenLength + 1), out _));
    }

    [Fact]
    public void Constructor_rejects_short_keys() =>
        Assert.Throws<ArgumentException>(() => new TokenSigner(new byte[8]));

    [Fact]
    public void LoadOrCreateKeyFile_creates_once_and_reuses()
    {
        using var files = new TestFiles();
        var path = Path.Combine(files.Root, "sub", "secret.key");
        var first = TokenSigner.LoadOrCreateKeyFile(path);
        var second = TokenSigner.LoadOrCreateKeyFile(path);
        Assert.Equal(32, first.Length);
        Assert.Equal(first, second);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void A_token_names_the_key_that_signed_it_and_another_signer_reports_that_key_id_as_unknown()
    {
        var other = new TokenSigner(Encoding.UTF8.GetBytes("key-two-0123456789abcdef"));
        Assert.NotEqual(Signer.SigningKey.Id, other.SigningKey.Id);
        Assert.Matches("^[0-9a-f]{8}$", other.SigningKey.IdText);

        var text = other.Create(new TrackingToken(TokenKind.Click, "c", "r", 1, "https://a.example/"));
        Assert.Equal(TokenStatus.UnknownKey, Signer.Verify(text, out var token, out var keyId));
        Assert.Null(token);
        Assert.Equal(other.SigningKey.Id, keyId);
        Assert.Equal(TokenStatus.Valid, other.Verify(text, out _, out keyId));
        Assert.Equal(other.SigningKey.Id, keyId);
    }

    [Fact]
    public void The_key_id_is_derived_from_the_key_alone()
    {
        var a = new TokenKey(Encoding.UTF8.GetBytes("key-one-0123456789abcdef"), "HERALD_SECRET");
        var b = new TokenKey(Encoding.UTF8.GetBytes("key-one-0123456789abcdef"), "/somewhere/else.key");
        Assert.Equal(a.Id, b.Id);
        Assert.Equal(Signer.SigningKey.Id, a.Id);
        Assert.Equal($"{a.IdText} (from HERALD_SECRET)", a.ToString());
    }

    [Fact]
    public void After_a_rotation_the_new_key_signs_and_the_previous_key_still_verifies()
    {
        var oldKey = new TokenKey(Encoding.UTF8.GetBytes("old-secret-0123456789abcdef"), "old");
        var newKey = new TokenKey(Encoding.UTF8.GetBytes("new-secret-0123456789abcdef"), "new");
        var before = new TokenSigner(oldKey, []);
        var after = new TokenSigner(newKey, [oldKey]);
        var sent = before.Create(new TrackingToken(TokenKind.Click, "c", "r", 2, "https://a.example/x"));

        Assert.True(after.TryVerify(sent, out var verified));
        Assert.Equal("https://a.example/x", verified.Target);
        var fresh = after.Create(new TrackingToken(TokenKind.Open, "c", "r", 0, null));
        Assert.Equal(TokenStatus.Valid, after.Verify(fresh, out _, out var keyId));
        Assert.Equal(newKey.Id, keyId);
        Assert.Equal(TokenStatus.UnknownKey, before.Verify(fresh, out _, out _));
        Assert.Single(after.PreviousKeys);
        Assert.Contains(oldKey.IdText, after.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_forged_token_with_a_known_key_id_is_a_bad_signature()
    {
        var text = Signer.Create(new TrackingToken(TokenKind.Click, "c", "r", 1, "https://a.example/"));
        var bytes = Base64Url.DecodeFromChars(text);
        bytes[^1] ^= 0x40;
        Assert.Equal(TokenStatus.BadSignature, Signer.Verify(Base64Url.EncodeToString(bytes), out _, out _));
    }

    [Fact]
    public void Only_the_canonical_spelling_verifies()
    {
        // A click token whose payload length leaves a partial last group, so padding and trailing bits apply.
        string text;
        var n = 0;
        do
        {
            text = Signer.Create(new TrackingToken(TokenKind.Click, "spring", "r" + n++, 1, "https://a.example/?q=" + new string('x', n)));
        }
        while (text.Length % 4 != 2 || !text.Contains('-', StringComparison.Ordinal) || !text.Contains('_', StringComparison.Ordinal));

        Assert.True(Signer.TryVerify(text, out _));
        string[] variants =
        [
            " " + text,
            text + " ",
            text[..10] + " " + text[10..],
            text[..10] + "\n" + text[10..],
            text.Replace('-', '+'),
            text.Replace('_', '/'),
            text + "==",
            text + "=",
            text[..^1] + (char)(text[^1] + 1), // same bytes, non-zero trailing bits
        ];
        foreach (var variant in variants)
        {
            Assert.Equal(TokenStatus.Malformed, Signer.Verify(variant, out _, out _));
        }
    }

    [Fact]
    public void A_legacy_token_without_key_id_still_verifies_with_the_current_or_a_previous_key()
    {
        // Version 1 (mail sent before key ids): 0x01, kind, strings, link, target, 16-byte MAC, no key id.
        var secret = Encoding.UTF8.GetBytes("old-secret-0123456789abcdef");
        byte[] payload = [1, (byte)TokenKind.Open, 1, (byte)'c', 2, (byte)'r', (byte)'1', 0];
        var mac = System.Security.Cryptography.HMACSHA256.HashData(secret, payload);
        var legacy = Base64Url.EncodeToString([.. payload, .. mac[..16]]);
        var signer = new TokenSigner(new TokenKey(Encoding.UTF8.GetBytes("new-secret-0123456789abcdef"), "new"), [new TokenKey(secret, "old")]);

        Assert.True(signer.TryVerify(legacy, out var token));
        Assert.Equal(new TrackingToken(TokenKind.Open, "c", "r1", 0, null), token);
        Assert.Equal(TokenStatus.BadSignature, Signer.Verify(legacy, out _, out _));
    }
}
