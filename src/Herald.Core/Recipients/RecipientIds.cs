using System.Security.Cryptography;
using System.Text;

namespace Herald.Recipients;

/// <summary>The stable id of a recipient within a campaign: the <c>recipient_id</c> column when given, else a hash of the address.</summary>
public static class RecipientIds
{
    /// <summary>Name of the optional recipients column that carries the caller's own id.</summary>
    public const string Column = "recipient_id";

    public static string For(string? recipientIdColumnValue, string normalizedEmail)
    {
        if (!string.IsNullOrWhiteSpace(recipientIdColumnValue))
        {
            return recipientIdColumnValue.Trim();
        }

        ArgumentNullException.ThrowIfNull(normalizedEmail);
        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(normalizedEmail.Length);
        if (max <= 512)
        {
            Span<byte> bytes = stackalloc byte[max];
            var count = Encoding.UTF8.GetBytes(normalizedEmail, bytes);
            SHA256.HashData(bytes[..count], hash);
        }
        else
        {
            SHA256.HashData(Encoding.UTF8.GetBytes(normalizedEmail), hash);
        }

        // 80 bits: collisions stay negligible at tens of millions of recipients.
        return Convert.ToHexStringLower(hash[..10]);
    }
}
