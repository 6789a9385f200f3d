using System.Security.Cryptography;
using System.Text;

namespace Herald.Prepare;

/// <summary>
/// The Message-ID written into each plan row, derived from (campaign, recipient) so retries of one message carry
/// the same id. Stand-in until the rendering side's <c>Herald.Rendering.MessageIds</c> lands; then this delegates.
/// </summary>
internal static class PlanMessageIds
{
    public static string Create(string campaignId, string recipientId, string fromDomain)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(campaignId + "\n" + recipientId), hash);
        return $"<{Convert.ToHexStringLower(hash[..12])}@{fromDomain}>";
    }
}
