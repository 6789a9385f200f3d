namespace Herald;

/// <summary>Root of every error Herald reports to a user; never a caller bug.</summary>
public class HeraldException : Exception
{
    public HeraldException(string message) : base(message) { }

    public HeraldException(string message, Exception? inner) : base(message, inner) { }

    public HeraldException() { }
}

/// <summary>One problem found in a campaign's files, located as precisely as the input allows.</summary>
/// <param name="File">The file the problem is in (as given, usually relative to the working directory).</param>
/// <param name="Line">1-based line, or the 1-based data row for tabular inputs when <paramref name="IsRow"/>; 0 when unknown.</param>
/// <param name="Column">1-based column; 0 when unknown or not meaningful.</param>
/// <param name="Message">What is wrong, in words a marketer understands.</param>
/// <param name="IsRow">True when <paramref name="Line"/> is a data row number (printed as <c>file:row</c>).</param>
public sealed record Problem(string File, int Line, int Column, string Message, bool IsRow = false)
{
    /// <summary><c>file:line:col: message</c>, or <c>file:row: message</c> for rows.</summary>
    public override string ToString()
    {
        if (IsRow)
        {
            return Line > 0 ? $"{File}:{Line}: {Message}" : $"{File}: {Message}";
        }

        return Line > 0 ? $"{File}:{Line}:{Column}: {Message}" : $"{File}: {Message}";
    }
}

/// <summary>A campaign (config, templates or input files) that cannot be used; carries every problem found.</summary>
public sealed class CampaignException : HeraldException
{
    public CampaignException(IReadOnlyList<Problem> problems)
        : base(string.Join(Environment.NewLine, problems))
    {
        Problems = problems;
    }

    public CampaignException(Problem problem) : this([problem]) { }

    public IReadOnlyList<Problem> Problems { get; }
}

/// <summary>One recipient that cannot be sent (for example a CR/LF reaching a header); the rest of the campaign goes on.</summary>
public sealed class RecipientRejectedException : HeraldException
{
    public RecipientRejectedException(string recipientId, string reason)
        : base($"recipient {recipientId} rejected: {reason}")
    {
        RecipientId = recipientId;
        Reason = reason;
    }

    public string RecipientId { get; }

    /// <summary>Short machine-readable reason, for example <c>header-injection</c>.</summary>
    public string Reason { get; }
}

/// <summary>
/// The store cannot be used (missing, locked by another sender, wrong schema, unreachable). Every store backend throws
/// this, never its driver's exception, with <see cref="IsTransient"/> set as Npgsql's <c>IsTransient</c> does.
/// </summary>
public sealed class StoreException : HeraldException
{
    public StoreException(string message, Exception? inner = null, bool isTransient = false, string? sqlState = null)
        : base(message, inner)
    {
        IsTransient = isTransient;
        SqlState = sqlState;
    }

    /// <summary>
    /// True when the same call may succeed if retried later (connection lost, server shutting down or failing over,
    /// serialization failure, deadlock, a busy or locked SQLite file); false for schema, permission, constraint and
    /// configuration errors, which need a person.
    /// </summary>
    public bool IsTransient { get; }

    /// <summary>The SQLSTATE (PostgreSQL) or result code name (SQLite) behind the error, when there was one.</summary>
    public string? SqlState { get; }
}
