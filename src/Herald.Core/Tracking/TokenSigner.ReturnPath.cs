using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Tracking;

/// <summary>What a verified return-path token names: the campaign (by a hash of its id) and the ledger row of the recipient.</summary>
/// <param name="CampaignHash">First 4 bytes of SHA-256 of the campaign id; check it against the row's campaign (<see cref="TokenSigner.CampaignHash"/>).</param>
/// <param name="Row">The recipient's row id in the store's ledger.</param>
/// <param name="KeyId">The id of the key that signed it (the current one, or one kept for verifying after a rotation).</param>
public sealed record ReturnPathToken(uint CampaignHash, long Row, uint KeyId)
{
    /// <summary>True when the token was made for <paramref name="campaignId"/>.</summary>
    public bool IsFor(string campaignId) => TokenSigner.CampaignHash(campaignId) == CampaignHash;
}

public sealed partial class TokenSigner
{
    /// <summary>Every return-path local part starts with this (compared without case).</summary>
    public const string ReturnPathPrefix = "b-";

    /// <summary>RFC 5321 §4.5.3.1.1: a local part has at most 64 octets.</summary>
    public const int MaxLocalPartLength = 64;

    private const byte ReturnPathVersion = 1;
    private const int ReturnPathKeyIdLength = 4;

    // version, kind, key id, campaign hash, row (varint, at most 9 bytes for a positive long), MAC: 35 bytes, 56 base32
    // characters, 58 with the prefix. The campaign id and recipient id themselves (up to 100 characters each) cannot fit
    // in 64 characters, so the token names the ledger row and the campaign by hash; the bounce processor looks the row up.
    private const int MaxReturnPathBytes = 2 + ReturnPathKeyIdLength + 4 + 9 + MacLength;

    /// <summary>The 4-byte campaign hash a return path carries.</summary>
    public static uint CampaignHash(string campaignId)
    {
        ArgumentNullException.ThrowIfNull(campaignId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(campaignId), hash);
        return BinaryPrimitives.ReadUInt32BigEndian(hash);
    }

    /// <summary>
    /// The variable envelope return path of one recipient: <c>b-TOKEN@domain</c>, TOKEN being lowercase base32 of a signed
    /// payload naming the campaign and the ledger row, at most <see cref="MaxLocalPartLength"/> characters with the prefix.
    /// </summary>
    public string CreateReturnPath(string campaignId, long row, string domain)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        return $"{CreateReturnPathLocalPart(campaignId, row)}@{domain}";
    }

    /// <summary>The local part of <see cref="CreateReturnPath"/>.</summary>
    public string CreateReturnPathLocalPart(string campaignId, long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        Span<byte> buffer = stackalloc byte[MaxReturnPathBytes];
        buffer[0] = ReturnPathVersion;
        buffer[1] = (byte)TokenKind.ReturnPath;
        var key = SigningKey;
        BinaryPrimitives.WriteUInt32BigEndian(buffer[2..], key.Id);
        var cached = _lastCampaign;
        if (cached is null || !string.Equals(cached.Id, campaignId, StringComparison.Ordinal))
        {
            _lastCampaign = cached = new CampaignHashEntry(campaignId, CampaignHash(campaignId));
        }

        BinaryPrimitives.WriteUInt32BigEndian(buffer[(2 + ReturnPathKeyIdLength)..], cached.Hash);
        var pos = 2 + ReturnPathKeyIdLength + 4;
        pos += WriteVarint(buffer[pos..], (ulong)row);
        Span<byte> mac = stackalloc byte[32];
        key.Mac(buffer[..pos], mac);
        mac[..MacLength].CopyTo(buffer[pos..]);
        pos += MacLength;
        return ReturnPathPrefix + Base32.Encode(buffer[..pos]);
    }

    /// <summary>
    /// Verifies a return path (a whole address or its local part), in any letter case. False for anything that is not one
    /// of ours: another prefix, bad base32, a wrong length, another key, a bad signature.
    /// </summary>
    public bool TryVerifyReturnPath(ReadOnlySpan<char> address, [NotNullWhen(true)] out ReturnPathToken? token)
    {
        token = null;
        var at = address.LastIndexOf('@');
        var local = at >= 0 ? address[..at] : address;
        if (local.Length > MaxLocalPartLength || !local.StartsWith(ReturnPathPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[MaxReturnPathBytes];
        if (!Base32.TryDecode(local[ReturnPathPrefix.Length..], buffer, out var written)
            || written < 2 + ReturnPathKeyIdLength + 4 + 1 + MacLength
            || buffer[0] != ReturnPathVersion || buffer[1] != (byte)TokenKind.ReturnPath)
        {
            return false;
        }

        var payload = buffer[..(written - MacLength)];
        // Any key this signer knows: mail sent before a key rotation still maps its bounces back.
        var keyId = BinaryPrimitives.ReadUInt32BigEndian(payload[2..]);
        if (Find(keyId) is not { } key)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[32];
        key.Mac(payload, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..MacLength], buffer.Slice(written - MacLength, MacLength)))
        {
            return false;
        }

        ReadOnlySpan<byte> rest = payload[(2 + ReturnPathKeyIdLength + 4)..];
        if (!TryReadVarint(ref rest, 9, out var row) || !rest.IsEmpty || row > long.MaxValue)
        {
            return false;
        }

        token = new ReturnPathToken(BinaryPrimitives.ReadUInt32BigEndian(payload[(2 + ReturnPathKeyIdLength)..]), (long)row, keyId);
        return true;
    }

    // A sender signs one campaign's return paths: its hash is remembered (a race computes the same value twice).
    private CampaignHashEntry? _lastCampaign;

    private sealed record CampaignHashEntry(string Id, uint Hash);
}
