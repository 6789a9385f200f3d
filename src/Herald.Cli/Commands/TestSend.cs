using Herald.Cli.Stores;
using Herald.Delivery;
using Herald.Recipients;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;
using MimeKit;

namespace Herald.Cli.Commands;

/// <summary>
/// <c>herald send CAMPAIGN.yml --to SEED[,SEED…] [--as RECIPIENT_ID]</c>: the real rendering of one recipient's
/// message, sent to a few seed addresses through the campaign's relays. Nothing is recorded: the store is opened
/// read-only (its plan is used when fresh, else a throwaway plan), no plan is created and the ledger is not touched.
/// </summary>
internal static class TestSend
{
    /// <summary>Header that marks a test message (filters and the seed's inbox can see it).</summary>
    public const string Header = "X-Herald-Test";

    /// <summary>Subject prefix of a test message.</summary>
    public const string SubjectPrefix = "[TEST] ";

    /// <summary>Tracking ids of test messages: their clicks and unsubscribes never count for (or suppress) the real recipient.</summary>
    public const string RecipientPrefix = "test~";

    private const int MaxSeeds = 20;

    public static async Task<int> RunAsync(string campaignFile, string? db, string to, string? asRecipient, TextWriter output, CancellationToken cancellationToken)
    {
        var seeds = ParseSeeds(to);
        var location = StoreLocator.Resolve(db, campaignFile);
        output.WriteLine(location.Line);
        var signer = TokenSigner.FromEnvironment();
        output.WriteLine($"signing links with {signer.Describe()}");
        using var session = CampaignSession.Open(campaignFile, signer, cancellationToken);
        var campaign = session.Campaign;

        var item = await ReadOnlyPlan.RunAsync<WorkItem?>(campaign, location, output, "Test send from",
            async store =>
            {
                var found = await FindAsync(store, campaign.Id, asRecipient, cancellationToken).ConfigureAwait(false);
                return (found is not null, found);
            },
            cancellationToken).ConfigureAwait(false)
            ?? throw new HeraldException(asRecipient is null
                ? $"campaign '{campaign.Id}' has no deliverable recipient to render the test message for."
                : $"--as {asRecipient}: no deliverable recipient with this id in campaign '{campaign.Id}'.");

        // Rendered once per seed with the recipient's data under a test id: a click or an unsubscribe in a test message
        // is recorded for the test id, never for (or against) the real recipient.
        var test = item with { RecipientId = RecipientPrefix + item.RecipientId, MessageId = string.Empty };
        MimeMessage Build(string seed)
        {
            var message = session.Compiled.Create(test);
            message.To.Clear();
            message.To.Add(new MailboxAddress(string.Empty, seed));
            message.Subject = SubjectPrefix + message.Subject;
            message.Headers.Add(Header, "1");
            return message;
        }

        try
        {
            using var probe = Build(seeds[0]);
        }
        catch (RecipientRejectedException ex)
        {
            throw new HeraldException($"recipient {item.RecipientId} ({item.Email}) cannot be rendered: {ex.Reason}", ex);
        }

        output.WriteLine($"test message: recipient {item.RecipientId}'s rendering, to {seeds.Count} seed address(es); nothing is recorded in the ledger.");
        var results = await TestSender.SendAsync(campaign, Build, seeds, cancellationToken).ConfigureAwait(false);
        foreach (var result in results)
        {
            // The reply text is the relay's whole line, its code included.
            var reply = result.Text.Length > 0 ? result.Text : $"{result.Code}";
            output.WriteLine(result.Kind switch
            {
                AttemptKind.Delivered => $"{result.Address}: accepted by relay {result.Relay} ({reply})",
                AttemptKind.Rejected => $"{result.Address}: refused by relay {result.Relay} ({reply})",
                AttemptKind.InDoubt => $"{result.Address}: no reply from relay {result.Relay} after the message was sent; it may have been delivered ({reply})",
                _ => $"{result.Address}: not sent: {reply}",
            });
        }

        if (results.All(r => r.Kind == AttemptKind.Delivered))
        {
            return CliRunner.Ok;
        }

        return results.All(r => r.Kind == AttemptKind.Retry) ? CliRunner.Unreachable : CliRunner.Incomplete;
    }

    private static List<string> ParseSeeds(string to)
    {
        var seeds = new List<string>();
        foreach (var raw in to.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!EmailAddress.TryNormalize(raw, out var address, out var error))
            {
                throw new HeraldException($"--to: '{raw}' is not an email address ({error}).");
            }

            if (!seeds.Contains(address, StringComparer.Ordinal))
            {
                seeds.Add(address);
            }
        }

        if (seeds.Count == 0)
        {
            throw new HeraldException("--to: give at least one address.");
        }

        if (seeds.Count > MaxSeeds)
        {
            throw new HeraldException($"--to: at most {MaxSeeds} seed addresses; a test send is not a campaign.");
        }

        return seeds;
    }

    private static async Task<WorkItem?> FindAsync(IDeliveryStore store, string campaignId, string? recipientId, CancellationToken cancellationToken)
    {
        await foreach (var item in store.ReadPendingAsync(campaignId, int.MaxValue, cancellationToken).ConfigureAwait(false))
        {
            if (recipientId is null || string.Equals(item.RecipientId, recipientId, StringComparison.Ordinal))
            {
                return item;
            }
        }

        return null;
    }
}
