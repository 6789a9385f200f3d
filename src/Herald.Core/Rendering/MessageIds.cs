using System.Security.Cryptography;
using System.Text;

namespace Herald.Rendering;

/// <summary>Message-IDs derived from (campaign, recipient), so one recipient's message is recognizable across retries.</summary>
public static class MessageIds
{
    /// <summary>A Message-ID without angle brackets: <c>campaign.hash@domain</c>.</summary>
    public static string Create(string campaignId, string recipientId, string fromDomain)
    {
        ArgumentNullException.ThrowIfNull(campaignId);
        ArgumentNullException.ThrowIfNull(recipientId);
        ArgumentException.ThrowIfNullOrEmpty(fromDomain);
        var input = Encoding.UTF8.GetBytes(campaignId + "\0" + recipientId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        var prefix = new StringBuilder(Math.Min(campaignId.Length, 40));
        foreach (var c in campaignId)
        {
            if (prefix.Length == 40)
            {
                break;
            }

            prefix.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        var left = prefix.Length > 0 ? $"{prefix}.{Convert.ToHexStringLower(hash[..12])}" : Convert.ToHexStringLower(hash[..12]);
        return $"{left}@{fromDomain.ToLowerInvariant()}";
    }
}
