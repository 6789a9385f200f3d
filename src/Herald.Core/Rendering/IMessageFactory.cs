using Herald.Store;
using MimeKit;

namespace Herald.Rendering;

/// <summary>
/// Builds the message of one recipient from its plan row. Implementations are thread-safe; the caller disposes the
/// returned message. The work item's <see cref="WorkItem.Context"/> is a UTF-8 JSON object of the recipient's fields
/// and joined data; the built-ins (<c>email</c>, <c>recipient_id</c>, <c>unsubscribe_url</c>, <c>postal_address</c>,
/// <c>campaign.id</c>) are added by the factory.
/// </summary>
public interface IMessageFactory
{
    /// <summary>Renders one message. Throws <see cref="RecipientRejectedException"/> when this recipient's data cannot be sent safely.</summary>
    MimeMessage Create(WorkItem item);
}
