using System.Globalization;
using System.Text;

namespace Herald.Store;

/// <summary>Everything that changes a ledger row's state or its lease.</summary>
public enum LedgerOperation
{
    /// <summary>A worker takes a due row under a lease and a new fencing token; the row stays <c>pending</c>.</summary>
    Claim,

    /// <summary>The durable mark written before MAIL FROM.</summary>
    MarkSending,

    /// <summary>The classified result of an attempt (or a decision not to send a claimed row).</summary>
    Outcome,

    /// <summary>The holder extends the lease of a row it still holds.</summary>
    Renew,

    /// <summary>The holder gives back a claimed row it did not mark (graceful stop, relay down).</summary>
    Release,

    /// <summary>Any live worker frees a peer's expired claim on a row that was never marked.</summary>
    RecoverClaim,

    /// <summary>Any live worker settles a peer's expired lease on a row marked <c>sending</c>: nobody knows whether it went out.</summary>
    RecoverSending,

    /// <summary>An operator accepts possible duplicates: <c>in_doubt</c> rows are sent again.</summary>
    ResetInDoubt,

    /// <summary>An operator gives <c>failed</c> rows (refused, so never delivered) another attempt: <c>herald retry --failed</c>.</summary>
    ResetFailed,
}

/// <summary>Who may apply a transition, and on which lease.</summary>
public enum LedgerGuard
{
    /// <summary>Nobody holds the row (never claimed, released, or its lease expired) and its next attempt is due.</summary>
    Due,

    /// <summary>The row still carries the caller's fencing token (the lease may have run out, but nobody took the row).</summary>
    OwnToken,

    /// <summary>The row carries the caller's fencing token and its lease has not expired (database clock).</summary>
    OwnLiveLease,

    /// <summary>The row is held by another worker whose lease expired (database clock), or who is provably gone.</summary>
    PeerLeaseExpired,

    /// <summary>An explicit operator command; no lease is involved.</summary>
    Operator,
}

/// <summary>One allowed change of a ledger row.</summary>
public sealed record LedgerTransition(LedgerOperation Operation, DeliveryState From, DeliveryState To, LedgerGuard Guard);

/// <summary>
/// The delivery state machine as one table: every backend builds the state conditions of its SQL from it
/// (<see cref="SqlCondition"/>), and the store contract tests drive every operation against rows in every state and
/// check that what a backend did is exactly what this table allows. A transition that is not here cannot happen.
/// </summary>
public static class LedgerTransitions
{
    /// <summary>Every allowed transition.</summary>
    public static IReadOnlyList<LedgerTransition> All { get; } =
    [
        new(LedgerOperation.Claim, DeliveryState.Pending, DeliveryState.Pending, LedgerGuard.Due),
        new(LedgerOperation.MarkSending, DeliveryState.Pending, DeliveryState.Sending, LedgerGuard.OwnLiveLease),
        new(LedgerOperation.Outcome, DeliveryState.Sending, DeliveryState.Sent, LedgerGuard.OwnToken),
        new(LedgerOperation.Outcome, DeliveryState.Sending, DeliveryState.Failed, LedgerGuard.OwnToken),
        new(LedgerOperation.Outcome, DeliveryState.Sending, DeliveryState.InDoubt, LedgerGuard.OwnToken),
        // The relay did not take the message (failure before the final dot, or 4xx after it): retry later.
        new(LedgerOperation.Outcome, DeliveryState.Sending, DeliveryState.Pending, LedgerGuard.OwnToken),
        // Decided not to send (suppressed, rejected, render error), before or after the mark but before MAIL FROM.
        new(LedgerOperation.Outcome, DeliveryState.Pending, DeliveryState.Skipped, LedgerGuard.OwnToken),
        new(LedgerOperation.Outcome, DeliveryState.Sending, DeliveryState.Skipped, LedgerGuard.OwnToken),
        new(LedgerOperation.Renew, DeliveryState.Pending, DeliveryState.Pending, LedgerGuard.OwnToken),
        new(LedgerOperation.Renew, DeliveryState.Sending, DeliveryState.Sending, LedgerGuard.OwnToken),
        new(LedgerOperation.Release, DeliveryState.Pending, DeliveryState.Pending, LedgerGuard.OwnToken),
        new(LedgerOperation.RecoverClaim, DeliveryState.Pending, DeliveryState.Pending, LedgerGuard.PeerLeaseExpired),
        new(LedgerOperation.RecoverSending, DeliveryState.Sending, DeliveryState.InDoubt, LedgerGuard.PeerLeaseExpired),
        new(LedgerOperation.ResetInDoubt, DeliveryState.InDoubt, DeliveryState.Pending, LedgerGuard.Operator),
        new(LedgerOperation.ResetFailed, DeliveryState.Failed, DeliveryState.Pending, LedgerGuard.Operator),
    ];

    /// <summary>True when <paramref name="operation"/> may move a row from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool Allows(LedgerOperation operation, DeliveryState from, DeliveryState to) =>
        All.Any(t => t.Operation == operation && t.From == from && t.To == to);

    /// <summary>The states a row may be in for <paramref name="operation"/> to move it to <paramref name="to"/>.</summary>
    public static IReadOnlyList<DeliveryState> Sources(LedgerOperation operation, DeliveryState to) =>
        All.Where(t => t.Operation == operation && t.To == to).Select(t => t.From).ToArray();

    /// <summary>The states a row may be in for <paramref name="operation"/> to apply at all.</summary>
    public static IReadOnlyList<DeliveryState> Sources(LedgerOperation operation) =>
        All.Where(t => t.Operation == operation).Select(t => t.From).Distinct().ToArray();

    /// <summary>The state <paramref name="operation"/> leaves a row in when it has one target (all but <see cref="LedgerOperation.Outcome"/>).</summary>
    public static DeliveryState Target(LedgerOperation operation)
    {
        var targets = All.Where(t => t.Operation == operation).Select(t => t.To).Distinct().ToArray();
        return targets.Length == 1
            ? targets[0]
            : throw new ArgumentException($"{operation} has {targets.Length} target states; name the target.", nameof(operation));
    }

    /// <summary>Throws when an outcome names a state no attempt may end in (a caller bug, never a user error).</summary>
    public static void EnsureOutcome(DeliveryState to)
    {
        if (Sources(LedgerOperation.Outcome, to).Count == 0)
        {
            throw new ArgumentException($"'{to.ToName()}' is not a state an attempt can end in.", nameof(to));
        }
    }

    /// <summary>
    /// A SQL condition that is true exactly when the row's <paramref name="stateColumn"/> allows
    /// <paramref name="operation"/>; with <paramref name="targetExpression"/> (an SQL expression giving the new state
    /// as its number), only for that target. States are compared as their numbers (<see cref="DeliveryState"/>).
    /// </summary>
    public static string SqlCondition(LedgerOperation operation, string stateColumn, string? targetExpression = null)
    {
        var transitions = All.Where(t => t.Operation == operation).ToArray();
        if (transitions.Length == 0)
        {
            throw new ArgumentException($"no transition for {operation}.", nameof(operation));
        }

        if (targetExpression is null)
        {
            return $"{stateColumn} IN ({Numbers(transitions.Select(t => t.From).Distinct())})";
        }

        var sql = new StringBuilder("(");
        var first = true;
        foreach (var group in transitions.GroupBy(t => t.From))
        {
            sql.Append(first ? string.Empty : " OR ")
                .Append(CultureInfo.InvariantCulture, $"({stateColumn} = {(int)group.Key} AND {targetExpression} IN ({Numbers(group.Select(t => t.To))}))");
            first = false;
        }

        return sql.Append(')').ToString();
    }

    /// <summary>
    /// A SQL condition that is true exactly when the row's <paramref name="stateColumn"/> is not final
    /// (<see cref="DeliveryStates.IsFinal"/>): the campaign still has work on that row.
    /// </summary>
    public static string UnfinishedCondition(string stateColumn) =>
        $"{stateColumn} IN ({Numbers(Enum.GetValues<DeliveryState>().Where(s => !s.IsFinal()))})";

    private static string Numbers(IEnumerable<DeliveryState> states) =>
        string.Join(", ", states.Select(s => ((int)s).ToString(CultureInfo.InvariantCulture)));
}
