namespace Herald.Store;

/// <summary>The delivery state of one recipient (see docs/ARCHITECTURE state machine).</summary>
public enum DeliveryState
{
    /// <summary>Not yet sent, or safe to retry (the relay did not take the message).</summary>
    Pending = 0,

    /// <summary>Durably marked before MAIL FROM; the outcome is not yet recorded.</summary>
    Sending = 1,

    /// <summary>2xx after the final dot.</summary>
    Sent = 2,

    /// <summary>Permanent failure (5xx, or out of attempts/time).</summary>
    Failed = 3,

    /// <summary>The message may or may not have been delivered; never retried automatically.</summary>
    InDoubt = 4,

    /// <summary>Decided before sending: invalid, duplicate, suppressed, missing data, rejected.</summary>
    Skipped = 5,
}

/// <summary>Names as they appear in JSON, CSV and the database.</summary>
public static class DeliveryStates
{
    public static string ToName(this DeliveryState state) => state switch
    {
        DeliveryState.Pending => "pending",
        DeliveryState.Sending => "sending",
        DeliveryState.Sent => "sent",
        DeliveryState.Failed => "failed",
        DeliveryState.InDoubt => "in_doubt",
        DeliveryState.Skipped => "skipped",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static bool IsFinal(this DeliveryState state) =>
        state is DeliveryState.Sent or DeliveryState.Failed or DeliveryState.InDoubt or DeliveryState.Skipped;
}
