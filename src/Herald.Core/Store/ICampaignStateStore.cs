namespace Herald.Store;

/// <summary>
/// Campaign-level state that is not about one recipient: whether the campaign is paused and why, and each relay's
/// health as its senders saw it last. Written by <c>herald send</c>, read by <c>herald status</c> (another process),
/// so it lives in the store. Writes are rare (on changes), never on the per-email path. Every backend passes the same
/// contract tests.
/// </summary>
public interface ICampaignStateStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the tables (idempotent).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Records that the campaign is paused (replacing an earlier pause's reason).</summary>
    Task PauseAsync(string campaignId, CampaignPause pause, CancellationToken cancellationToken);

    /// <summary>Clears the pause (a new <c>send</c> continues the campaign); returns the pause it cleared, or null.</summary>
    Task<CampaignPause?> ResumeAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>The current pause, or null when the campaign is not paused.</summary>
    Task<CampaignPause?> GetPauseAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Records relays' health, one row per relay name (the last writer wins per relay).</summary>
    Task SaveRelayHealthAsync(string campaignId, IReadOnlyList<RelayHealth> relays, CancellationToken cancellationToken);

    /// <summary>Every relay's last recorded health, ordered by name.</summary>
    Task<IReadOnlyList<RelayHealth>> GetRelayHealthAsync(string campaignId, CancellationToken cancellationToken);
}

/// <summary>Why and since when a campaign is paused.</summary>
/// <param name="Reason">What an operator reads, naming the relay and its last reply (<c>relay smtp-1: 530 5.7.0 Authentication required</c>) or the guard.</param>
/// <param name="Since">When it paused.</param>
/// <param name="WorkerId">The sender that paused it.</param>
public sealed record CampaignPause(string Reason, DateTimeOffset Since, string? WorkerId);

/// <summary>How a relay looked to its sender.</summary>
public enum RelayHealthState
{
    /// <summary>Not contacted yet.</summary>
    Unknown,

    /// <summary>Connected and taking mail.</summary>
    Up,

    /// <summary>Cannot be reached (refused, timed out, TLS failed, 421): retried after a cooldown.</summary>
    Down,

    /// <summary>Refuses the sender as configured (authentication, MAIL FROM, policy blocks, a 4xx storm): not used again until a new <c>send</c>.</summary>
    OutOfRotation,
}

/// <summary>One relay's health.</summary>
/// <param name="Name">The relay's name (<c>name</c> in the campaign, or host:port).</param>
/// <param name="LastReply">The relay's last SMTP reply that was not a success (<c>535 5.7.8 authentication failed</c>).</param>
/// <param name="LastError">The last socket or TLS error (<c>connection refused</c>), or why it left the rotation.</param>
/// <param name="Since">When it entered <paramref name="State"/>.</param>
public sealed record RelayHealth(string Name, RelayHealthState State, string? LastReply, string? LastError, DateTimeOffset Since);

/// <summary>Names as they appear in JSON and the database.</summary>
public static class RelayHealthStates
{
    public static string ToName(this RelayHealthState state) => state switch
    {
        RelayHealthState.Unknown => "unknown",
        RelayHealthState.Up => "up",
        RelayHealthState.Down => "down",
        RelayHealthState.OutOfRotation => "out_of_rotation",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static RelayHealthState Parse(string name) => name switch
    {
        "up" => RelayHealthState.Up,
        "down" => RelayHealthState.Down,
        "out_of_rotation" => RelayHealthState.OutOfRotation,
        _ => RelayHealthState.Unknown,
    };
}
