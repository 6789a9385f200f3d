using Herald.Store;

namespace Herald.Delivery;

/// <summary>
/// A reputation guard the engine consults: it sees every attempt's outcome and may pause the campaign (stop sending,
/// leave every unsent recipient pending, record the pause with its reason in the store, exit 4). Built in: the relay
/// guards (authentication, MAIL FROM, policy blocks, 4xx storms), which take one relay out of rotation. Campaign-wide
/// guards (hard-bounce rate, complaint rate) implement this interface and are passed in
/// <see cref="DeliveryEngineOptions.Guards"/>.
/// </summary>
public interface IDeliveryGuard
{
    /// <summary>
    /// Called once per finished SMTP attempt, on the connection's thread, after its outcome is decided (not for rows
    /// skipped before sending). Must be quick and thread-safe. Returns the reason to pause the whole campaign, in words
    /// an operator reads (<c>hard-bounce rate 6.1 % over the last 1,000 attempts (limit 5 %)</c>), or null.
    /// </summary>
    string? Observe(AttemptObservation attempt);

    /// <summary>
    /// Called about once a second while sending, for what arrives outside the SMTP dialogue (asynchronous bounces,
    /// complaints written to the store by <c>herald bounces</c>). Returns a reason to pause, or null.
    /// </summary>
    ValueTask<string?> PollAsync(CancellationToken cancellationToken);
}

/// <summary>One finished attempt, as a guard sees it.</summary>
/// <param name="Item">The recipient's row.</param>
/// <param name="Result">What the SMTP transaction proved, with the reply, its stage and enhanced status code.</param>
/// <param name="Blame">Who the failure is about (<see cref="ReplyClassifier"/>).</param>
/// <param name="State">The state recorded for the recipient (<c>Pending</c> when it will be retried).</param>
/// <param name="Relay">The relay's name.</param>
public sealed record AttemptObservation(WorkItem Item, AttemptResult Result, Blame Blame, DeliveryState State, string Relay);
