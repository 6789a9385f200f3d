namespace Herald.Recipients;

/// <summary>One row of the recipient list, as read (before normalization and dedupe).</summary>
/// <param name="Row">1-based data row (CSV: excluding the header; JSONL: line number).</param>
/// <param name="Email">The <c>email</c> field as read.</param>
/// <param name="Fields">Every column or field of the row, <c>email</c> included; values are string, long, double, bool, null, or nested lists/dictionaries (JSONL).</param>
public sealed record RecipientRow(int Row, string Email, IReadOnlyDictionary<string, object?> Fields);
