namespace Herald.Tracking;

/// <summary>What a tracking URL is for.</summary>
public enum TokenKind
{
    Click = 1,
    Open = 2,
    Unsubscribe = 3,

    /// <summary>A variable envelope return path (<c>b-TOKEN@bounce-domain</c>); never a URL token (see <see cref="TokenSigner.CreateReturnPath"/>).</summary>
    ReturnPath = 4,
}

/// <summary>The verified content of a tracking token.</summary>
/// <param name="Kind">Click, open or unsubscribe.</param>
/// <param name="CampaignId">Campaign id.</param>
/// <param name="RecipientId">Recipient id within the campaign.</param>
/// <param name="LinkNumber">1-based link number for clicks; 0 otherwise.</param>
/// <param name="Target">For clicks: the target URL, always carried in the token so redirects need no database; null otherwise.</param>
public sealed record TrackingToken(TokenKind Kind, string CampaignId, string RecipientId, int LinkNumber, string? Target);
