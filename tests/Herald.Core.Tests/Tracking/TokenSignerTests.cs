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
}
