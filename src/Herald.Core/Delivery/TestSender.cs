using Herald.Campaigns;
using MimeKit;

namespace Herald.Delivery;

/// <summary>What became of one seed address of a test send.</summary>
/// <param name="Relay">The relay that answered last (null when none could be reached).</param>
public sealed record TestSendResult(string Address, AttemptKind Kind, int? Code, string Text, string? Relay);

/// <summary>
/// <c>herald send --to</c>: one rendered message to a few seed addresses through the campaign's relays, outside the
/// ledger (nothing recorded, no plan touched). Relays are tried in order: a relay that cannot be reached or answers
/// "try later" hands the seed to the next; a message that may have been delivered is never sent again.
/// </summary>
public static class TestSender
{
    public static async Task<IReadOnlyList<TestSendResult>> SendAsync(
        Campaign campaign, Func<string, MimeMessage> messageFor, IReadOnlyList<string> addresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(messageFor);
        ArgumentNullException.ThrowIfNull(addresses);
        var sender = new MailboxAddress(campaign.From.Name, campaign.From.Address);
        var results = new List<TestSendResult>();
        var pending = new List<string>(addresses);
        var lastError = "no relay could be reached";
        string? lastRelay = null;
        foreach (var relay in campaign.Relays)
        {
            if (pending.Count == 0)
            {
                break;
            }

            var connection = new RelayConnection(relay, campaign.Delivery, campaign.From.Domain);
            await using (connection.ConfigureAwait(false))
            {
                lastRelay = relay.Name;
                try
                {
                    await connection.ConnectAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException or HeraldException or System.Security.Authentication.AuthenticationException or SmtpReplyException)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    lastError = $"relay {relay.Name}: {ex.Message}";
                    continue;
                }

                var next = new List<string>();
                foreach (var address in pending)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (!connection.IsConnected)
                    {
                        next.Add(address);
                        continue;
                    }

                    using var message = messageFor(address);
                    var result = await connection.SendAsync(message, sender, new MailboxAddress((string?)null, address)).ConfigureAwait(false);
                    if (result.Kind == AttemptKind.Retry)
                    {
                        lastError = $"relay {relay.Name}: {(result.Text.Length > 0 ? result.Text : result.Code)}";
                        next.Add(address);
                        continue;
                    }

                    results.Add(new TestSendResult(address, result.Kind, result.Code, result.Text, relay.Name));
                }

                pending = next;
            }
        }

        foreach (var address in pending)
        {
            results.Add(new TestSendResult(address, AttemptKind.Retry, null, lastError, lastRelay));
        }

        return results;
    }
}
