using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Tracking;

/// <summary>What <see cref="TokenSigner.Verify"/> found.</summary>
public enum TokenStatus
{
    Valid,

    /// <summary>Not a token: wrong characters, not the canonical base64url spelling, truncated, too long, bad payload.</summary>
    Malformed,

    /// <summary>Well formed, but signed with a key id this signer does not have (another secret, or a rotated-out key).</summary>
    UnknownKey,

    /// <summary>The key id is known but the signature does not match: tampered or forged.</summary>
    BadSignature,
}

/// <summary>
/// Creates and verifies signed tokens: base64url (no padding) of <c>payload || HMAC-SHA256(key, payload)[..16]</c>. The
/// payload holds a version, the kind, the signing key's id, the campaign and recipient ids, the link number and (for
/// clicks) the target URL, so the tracking server needs no database to verify or redirect. One key signs; previous
/// keys still verify, so links in mail already sent keep working after a rotation. Thread-safe.
/// </summary>
public sealed partial class TokenSigner
{
    /// <summary>Tokens longer than this are rejected before any work (the longest URL we sign is far shorter).</summary>
    public const int MaxTokenLength = 4096;

    /// <summary>Tokens without a key id (before key ids existed): verified against every key.</summary>
    private const byte LegacyVersion = 1;
    private const byte Version = 2;
    private const int MacLength = 16;
    private const int KeyIdLength = 4;

    private static readonly SearchValues<char> Base64UrlChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly TokenKey[] _keys;

    /// <summary>A signer with one key (tests, benchmarks, throwaway signers).</summary>
    public TokenSigner(ReadOnlySpan<byte> key) : this(new TokenKey(key, "a key given in code"), []) { }

    /// <param name="signing">Signs new tokens (and verifies).</param>
    /// <param name="previous">Only verify: keys rotated out whose links may still be in mailboxes.</param>
    public TokenSigner(TokenKey signing, IEnumerable<TokenKey> previous)
    {
        ArgumentNullException.ThrowIfNull(signing);
        ArgumentNullException.ThrowIfNull(previous);
        var keys = new List<TokenKey> { signing };
        foreach (var key in previous)
        {
            // The same key listed twice (or the current key among the previous ones) is one key.
            if (!keys.Exists(k => k.Id == key.Id))
            {
                keys.Add(key);
            }
        }

        _keys = [.. keys];
    }

    /// <summary>The key new tokens are signed with.</summary>
    public TokenKey SigningKey => _keys[0];

    /// <summary>Keys that only verify.</summary>
    public IReadOnlyList<TokenKey> PreviousKeys => _keys[1..];

    /// <summary>One line for the operator: the signing key's id and origin, and the previous keys' ids.</summary>
    public string Describe()
    {
        var text = $"key {SigningKey}";
        if (_keys.Length > 1)
        {
            text += $"; also verifying {_keys.Length - 1} previous key(s): {string.Join(", ", PreviousKeys.Select(k => k.ToString()))}";
        }

        return text;
    }

    /// <summary>Creates the token for <paramref name="token"/>.</summary>
    public string Create(TrackingToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var campaign = Encoding.UTF8.GetByteCount(token.CampaignId);
        var recipient = Encoding.UTF8.GetByteCount(token.RecipientId);
        var target = token.Target is null ? 0 : Encoding.UTF8.GetByteCount(token.Target);
        var payloadLength = 2 + KeyIdLength + 5 + campaign + 5 + recipient + 5 + 5 + target;
        var rented = ArrayPool<byte>.Shared.Rent(payloadLength + MacLength);
        try
        {
            var buffer = rented.AsSpan();
            var key = _keys[0];
            var pos = 0;
            buffer[pos++] = Version;
            buffer[pos++] = (byte)token.Kind;
            BinaryPrimitives.WriteUInt32BigEndian(buffer[pos..], key.Id);
            pos += KeyIdLength;
            pos += WriteString(buffer[pos..], token.CampaignId);
            pos += WriteString(buffer[pos..], token.RecipientId);
            pos += WriteVarint(buffer[pos..], (uint)token.LinkNumber);
            if (token.Target is not null)
            {
                pos += WriteString(buffer[pos..], token.Target);
            }

            Span<byte> mac = stackalloc byte[32];
            key.Mac(buffer[..pos], mac);
            mac[..MacLength].CopyTo(buffer[pos..]);
            pos += MacLength;
            return Base64Url.EncodeToString(buffer[..pos]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Verifies a token; false for anything malformed, non-canonical, truncated, too long or signed with a key we do not have.</summary>
    public bool TryVerify(ReadOnlySpan<char> text, [NotNullWhen(true)] out TrackingToken? token) =>
        Verify(text, out token, out _) == TokenStatus.Valid;

    /// <summary>
    /// Verifies a token and says why it is refused. Only the canonical spelling verifies (base64url alphabet, no
    /// padding, no whitespace, zero trailing bits), so one token has exactly one URL. <paramref name="keyId"/> is the
    /// id the token names (0 for malformed and legacy tokens): with <see cref="TokenStatus.UnknownKey"/> it tells the
    /// operator which secret the link was made with.
    /// </summary>
    public TokenStatus Verify(ReadOnlySpan<char> text, out TrackingToken? token, out uint keyId)
    {
        token = null;
        keyId = 0;
        if (!IsCanonicalBase64Url(text))
        {
            return TokenStatus.Malformed;
        }

        var rented = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(text.Length));
        try
        {
            if (Base64Url.DecodeFromChars(text, rented, out var consumed, out var written) != OperationStatus.Done
                || consumed != text.Length || written <= MacLength + 2)
            {
                return TokenStatus.Malformed;
            }

            var payload = rented.AsSpan(0, written - MacLength);
            var mac = rented.AsSpan(written - MacLength, MacLength);
            if (payload[0] == LegacyVersion)
            {
                return VerifyLegacy(payload, mac, out token);
            }

            if (payload[0] != Version || payload.Length < 2 + KeyIdLength)
            {
                return TokenStatus.Malformed;
            }

            keyId = BinaryPrimitives.ReadUInt32BigEndian(payload[2..]);
            var key = Find(keyId);
            if (key is null)
            {
                // Parse anyway: a well-formed token from another secret is worth reporting, random bytes are not.
                return TryParse(payload, out _) ? TokenStatus.UnknownKey : TokenStatus.Malformed;
            }

            if (!MacMatches(key, payload, mac))
            {
                return TokenStatus.BadSignature;
            }

            return TryParse(payload, out token) ? TokenStatus.Valid : TokenStatus.Malformed;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private TokenKey? Find(uint id)
    {
        foreach (var key in _keys)
        {
            if (key.Id == id)
            {
                return key;
            }
        }

        return null;
    }

    /// <summary>Version 1 tokens (mail sent before key ids) name no key: try each, current first.</summary>
    private TokenStatus VerifyLegacy(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> mac, out TrackingToken? token)
    {
        token = null;
        foreach (var key in _keys)
        {
            if (MacMatches(key, payload, mac))
            {
                return TryParse(payload, out token) ? TokenStatus.Valid : TokenStatus.Malformed;
            }
        }

        return TokenStatus.BadSignature;
    }

    private static bool MacMatches(TokenKey key, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> mac)
    {
        Span<byte> expected = stackalloc byte[32];
        key.Mac(payload, expected);
        return CryptographicOperations.FixedTimeEquals(expected[..MacLength], mac);
    }

    /// <summary>
    /// True for the one spelling our encoder writes: only the base64url alphabet (no whitespace, no '+', '/' or '='),
    /// a length a byte string can have, and zero bits after the last byte (decoders ignore them, so "AB" and "AC"
    /// would otherwise be the same token).
    /// </summary>
    private static bool IsCanonicalBase64Url(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > MaxTokenLength || text.ContainsAnyExcept(Base64UrlChars))
        {
            return false;
        }

        var last = Sextet(text[^1]);
        return (text.Length & 3) switch
        {
            1 => false,
            2 => (last & 0x0F) == 0,
            3 => (last & 0x03) == 0,
            _ => true,
        };
    }

    private static int Sextet(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };

    private static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out TrackingToken? token)
    {
        token = null;
        var kind = (TokenKind)payload[1];
        if (!Enum.IsDefined(kind))
        {
            return false;
        }

        var rest = payload[0] == LegacyVersion ? payload[2..] : payload[(2 + KeyIdLength)..];
        if (!TryReadString(ref rest, out var campaign) || !TryReadString(ref rest, out var recipient)
            || !TryReadVarint(ref rest, out var link))
        {
            return false;
        }

        string? target = null;
        if (!rest.IsEmpty && !TryReadString(ref rest, out target))
        {
            return false;
        }

        if (!rest.IsEmpty || link > int.MaxValue)
        {
            return false;
        }

        token = new TrackingToken(kind, campaign, recipient, (int)link, target);
        return true;
    }

    private static int WriteString(Span<byte> buffer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var pos = WriteVarint(buffer, (uint)length);
        return pos + Encoding.UTF8.GetBytes(value, buffer[pos..]);
    }

    private static int WriteVarint(Span<byte> buffer, ulong value)
    {
        var pos = 0;
        while (value >= 0x80)
        {
            buffer[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[pos++] = (byte)value;
        return pos;
    }

    /// <summary>A 32-bit varint: at most 5 bytes.</summary>
    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, out uint value)
    {
        var read = TryReadVarint(ref span, 5, out var wide);
        value = (uint)wide;
        return read;
    }

    /// <summary>A varint of at most <paramref name="maxBytes"/> bytes (5 for 32-bit values, 9 for 63-bit ones).</summary>
    private static bool TryReadVarint(ref ReadOnlySpan<byte> span, int maxBytes, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < maxBytes * 7; shift += 7)
        {
            if (span.IsEmpty)
            {
                return false;
            }

            var b = span[0];
            span = span[1..];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryReadString(ref ReadOnlySpan<byte> span, [NotNullWhen(true)] out string? value)
    {
        value = null;
        if (!TryReadVarint(ref span, out var length) || length > (uint)span.Length)
        {
            return false;
        }

        try
        {
            value = Strict.GetString(span[..(int)length]);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        span = span[(int)length..];
        return true;
    }

    private static readonly UTF8Encoding Strict = new(false, true);
}
