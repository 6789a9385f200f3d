namespace Herald.Tracking;

/// <summary>
/// When each sent recipient's message was accepted, read in parts of the plan (one map per part, filled concurrently)
/// and looked up in plan order, so a recipient id planned twice keeps its first delivery.
/// </summary>
internal sealed class DeliveryTimes(Dictionary<string, DateTimeOffset>[] parts)
{
    public bool TryGetValue(string recipientId, out DateTimeOffset at)
    {
        foreach (var part in parts)
        {
            if (part.TryGetValue(recipientId, out at))
            {
                return true;
            }
        }

        at = default;
        return false;
    }
}
