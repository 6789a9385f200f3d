namespace Herald.Store;

/// <summary>The store's suppression list, as the prepare step and the sender see it.</summary>
public interface ISuppressionList
{
    /// <summary>Which of these normalized addresses are suppressed. One round trip for the whole batch.</summary>
    Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken);
}
