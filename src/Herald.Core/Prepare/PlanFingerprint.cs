using System.Security.Cryptography;
using System.Text;
using Herald.Campaigns;
using Herald.Store;

namespace Herald.Prepare;

/// <summary>
/// A digest of everything a plan is derived from: the content (not the path or time) of the recipients file,
/// every data set file and the templates, plus the settings that shape plan rows (id, sender, subject, headers,
/// data-set options). Relay, retry and tracking settings are left out: changing them needs no new plan.
/// The suppression list is not part of it either; the sender checks it again at send time.
/// </summary>
public static class PlanFingerprint
{
    /// <summary>Bumped when the plan format or the prepare semantics change, so older plans read as stale.</summary>
    private const string Version = "herald-plan-v1";

    public static string Compute(Campaign campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string? value)
        {
            var bytes = Encoding.UTF8.GetBytes(value ?? "\u0000null");
            Span<byte> length = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        void FileContent(string? path)
        {
            if (path is null)
            {
                Text(null);
                return;
            }

            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                Text(stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    int read;
                    while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CampaignException(new Problem(path, 0, 0, $"cannot read: {ex.Message}"));
            }
        }

        Text(Version);
        Text(campaign.Id);
        Text(campaign.From.ToString());
        Text(campaign.Subject);
        foreach (var (name, value) in campaign.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            Text(name);
            Text(value);
        }

        if (campaign.Addresses.CaseSensitiveLocalPart)
        {
            // Only when set, so the fingerprints of plans made before the option existed stay valid.
            Text("case-sensitive-local-part");
        }

        Text("html");
        FileContent(campaign.HtmlPath);
        Text("text");
        FileContent(campaign.TextPath);
        Text("recipients");
        Text(Path.GetExtension(campaign.RecipientsPath).ToLowerInvariant());
        FileContent(campaign.RecipientsPath);
        foreach (var set in campaign.Data.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            Text("data");
            Text(set.Name);
            Text(set.Key);
            Text(set.RecipientKey);
            Text(set.Many ? "many" : "one");
            Text(set.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Text(set.OrderBy);
            Text(set.Required ? "required" : "optional");
            Text(Path.GetExtension(set.File).ToLowerInvariant());
            FileContent(Path.IsPathRooted(set.File) ? set.File : Path.Combine(campaign.Directory, set.File));
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
