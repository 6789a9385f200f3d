using System.Text;
using Herald.Tracking;

namespace Herald.Core.Tests.Tracking;

public class ReturnPathTests
{
    private static readonly TokenSigner Signer = new(Encoding.UTF8.GetBytes("key-one-0123456789abcdef"));

    [Theory]
    [InlineData("", "")]
    [InlineData("f", "my")]
    [InlineData("fo", "mzxq")]
    [InlineData("foo", "mzxw6")]
    [InlineData("foob", "mzxw6yq")]
    [InlineData("fooba", "mzxw6ytb")]
    [InlineData("foobar", "mzxw6ytboi")]
    public void Base32_matches_the_rfc_4648_vectors_in_lowercase_and_reads_either_case(string data, string encoded)
    {
        Assert.Equal(encoded, Base32.Encode(Encoding.ASCII.GetBytes(data)));
        var buffer = new byte[16];
        Assert.True(Base32.TryDecode(encoded.ToUpperInvariant(), buffer, out var written));
        Assert.Equal(data, Encoding.ASCII.GetString(buffer, 0, written));
    }

    [Theory]
    [InlineData("mzxw6yr")] // non-zero trailing bits: not the encoder's spelling
    [InlineData("m")] // no length encodes to one character
    [InlineData("mzxw6===")]
    [InlineData("mzx w6")]
    [InlineData("mzxw1")]
    public void Base32_refuses_what_the_encoder_never_writes(string text) =>
        Assert.False(Base32.TryDecode(text, new byte[16], out _));

    [Theory]
    [InlineData("spring-2026", 0L)]
    [InlineData("spring-2026", 1L)]
    [InlineData("a-campaign-id-of-one-hundred-characters-0123456789-0123456789-0123456789-0123456789-0123456789-xx", 1_000_000L)]
    [InlineData("c", long.MaxValue)]
    public void A_return_path_round_trips_and_fits_a_local_part(string campaign, long row)
    {
        var address = Signer.CreateReturnPath(campaign, row, "bounces.shop.example.com");

        var local = address[..address.IndexOf('@', StringComparison.Ordinal)];
        Assert.StartsWith("b-", local, StringComparison.Ordinal);
        Assert.True(local.Length <= 64, $"{local.Length} characters");
        Assert.All(local[2..], c => Assert.True(c is (>= 'a' and <= 'z') or (>= '2' and <= '7'), $"'{c}'"));
        Assert.EndsWith("@bounces.shop.example.com", address, StringComparison.Ordinal);
        Assert.True(Signer.TryVerifyReturnPath(address, out var token));
        Assert.Equal(row, token.Row);
        Assert.True(token.IsFor(campaign));
        Assert.False(token.IsFor(campaign + "x"));
    }

    [Fact]
    public void A_return_path_survives_an_mta_that_changes_the_letter_case()
    {
        var local = Signer.CreateReturnPathLocalPart("spring", 42);

        Assert.True(Signer.TryVerifyReturnPath(local.ToUpperInvariant() + "@BOUNCES.EXAMPLE.COM", out var upper));
        Assert.True(Signer.TryVerifyReturnPath(local.ToLowerInvariant(), out var lower));
        Assert.Equal(42, upper.Row);
        Assert.Equal(upper, lower);
    }

    [Fact]
    public void A_tampered_truncated_or_foreign_return_path_is_refused()
    {
        var local = Signer.CreateReturnPathLocalPart("spring", 42);
        var other = new TokenSigner(Encoding.UTF8.GetBytes("key-two-0123456789abcdef"));

        for (var i = 2; i < local.Length; i++)
        {
            var chars = local.ToCharArray();
            chars[i] = chars[i] == 'a' ? 'b' : 'a';
            Assert.False(Signer.TryVerifyReturnPath(new string(chars), out _), $"changed at {i}");
        }

        Assert.False(Signer.TryVerifyReturnPath(local.AsSpan()[..^1], out _));
        Assert.False(Signer.TryVerifyReturnPath(local.AsSpan()[..^8], out _));
        Assert.False(Signer.TryVerifyReturnPath(local + "a", out _));
        Assert.False(Signer.TryVerifyReturnPath("x-" + local[2..], out _));
        Assert.False(Signer.TryVerifyReturnPath("b-", out _));
        Assert.False(Signer.TryVerifyReturnPath("news@shop.example.com", out _));
        Assert.False(other.TryVerifyReturnPath(local, out _));
    }

    [Fact]
    public void Return_paths_and_tracking_tokens_are_not_interchangeable()
    {
        var local = Signer.CreateReturnPathLocalPart("spring", 42);
        var tracking = Signer.Create(new TrackingToken(TokenKind.Unsubscribe, "spring", "r1", 0, null));

        Assert.False(Signer.TryVerify(local.AsSpan()[2..], out _));
        Assert.False(Signer.TryVerifyReturnPath("b-" + tracking, out _));
    }
}
