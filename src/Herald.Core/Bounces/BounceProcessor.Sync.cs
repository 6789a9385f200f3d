using System.Security.Cryptography;
using System.Text;
using Herald.Store;

namespace Herald.Bounces;

/// <summary>Synchronous bounces: the relay's reply during the send, already recorded in the ledger.</summary>
public sealed partial class BounceProcessor
{
    private const int SyncBatch = 500;

    /// <summary>
    /// Applies the policy to a campaign's recipients that failed with an SMTP reply (a 5.1.1 at RCPT is a hard bounce; a
    /// recipient given up after repeated 4xx replies is one soft bounce). Idempotent: one event per recipient and
    /// campaign however often it runs, so <c>send</c> runs it at every start and end, and a crash in between loses nothing.
    /// </summary>
    public async Task<SyncBounceResult> ApplySyncFailuresAsync(string campaignId, CancellationToken cancellationToken)
    {
        var batch = new List<BounceEvent>(SyncBatch);
        long hard = 0, soft = 0, suppressed = 0;
        await foreach (var failure in _bounces.ReadSyncFailuresAsync(campaignId, cancellationToken).ConfigureAwait(false))
        {
            if (BounceClassifier.ClassifyReply(failure.SmtpCode, failure.SmtpText) is not { } classification)
            {
                continue;
            }

            var recipient = failure.Recipient;
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"sync\0{recipient.CampaignId}\0{recipient.RecipientId}"));
            var text = $"{failure.SmtpCode.ToString(System.Globalization.CultureInfo.InvariantCulture)} {failure.SmtpText}";
            batch.Add(new BounceEvent(new Guid(hash.AsSpan(0, 16)), failure.At, recipient.CampaignId, recipient.RecipientId, recipient.Email,
                classification.Type, classification.Code, text.Length > MaxTextLength ? text[..MaxTextLength] : text, BounceSource.Sync));
            if (classification.Type == BounceType.Hard)
            {
                hard++;
            }
            else
            {
                soft++;
            }

            if (batch.Count == SyncBatch)
            {
                suppressed += (await RecordAsync(batch, cancellationToken).ConfigureAwait(false)).Suppressed;
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            suppressed += (await RecordAsync(batch, cancellationToken).ConfigureAwait(false)).Suppressed;
        }

        return new SyncBounceResult(hard, soft, suppressed);
    }
}

/// <summary>What <see cref="BounceProcessor.ApplySyncFailuresAsync"/> found: the campaign's synchronous bounces so far, and the addresses newly suppressed.</summary>
public sealed record SyncBounceResult(long Hard, long Soft, long Suppressed);
