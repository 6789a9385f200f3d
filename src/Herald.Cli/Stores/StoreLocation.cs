namespace Herald.Cli.Stores;

/// <summary>Which backend an address names.</summary>
internal enum StoreKind
{
    /// <summary>A file path: the embedded SQLite store.</summary>
    Sqlite,

    /// <summary>A <c>postgresql://</c> address.</summary>
    Postgres,
}

/// <summary>How the store was chosen, in the order of the rule (docs/STORE.md).</summary>
internal enum StoreSource
{
    /// <summary><c>--db</c>.</summary>
    Option,

    /// <summary><c>HERALD_DB</c>.</summary>
    Environment,

    /// <summary>A <c>herald.db</c> found walking up from the campaign's (or the current) folder.</summary>
    FoundAbove,

    /// <summary>None found: the user's data folder (<c>$XDG_DATA_HOME/herald/herald.db</c>).</summary>
    UserDefault,
}

/// <summary>Where a command's store is, and why it is there.</summary>
/// <param name="Address">A full file path for SQLite, or the <c>postgresql://</c> address as given.</param>
/// <param name="SearchedFrom">For <see cref="StoreSource.FoundAbove"/> and <see cref="StoreSource.UserDefault"/>: the folder the search started in.</param>
internal sealed record StoreLocation(string Address, StoreKind Kind, StoreSource Source, string? SearchedFrom)
{
    /// <summary>The address as it may be printed: never a secret (a PostgreSQL address carrying a password is refused before this).</summary>
    public string Display => Address;

    /// <summary>Why this store: for the first line of every command.</summary>
    public string Reason => Source switch
    {
        StoreSource.Option => "from --db",
        StoreSource.Environment => $"from {StoreLocator.Variable}",
        StoreSource.FoundAbove => $"found walking up from {SearchedFrom}",
        StoreSource.UserDefault => $"the default: no {StoreLocator.FileName} in {SearchedFrom} or above it",
        _ => throw new InvalidOperationException(),
    };

    /// <summary><c>store: ADDRESS (REASON)</c>: what every command prints first in text mode.</summary>
    public string Line => $"store: {Display} ({Reason})";

    /// <summary>Where a command that needs an existing store looked, for the error when there is none.</summary>
    public string WhereLooked => Source switch
    {
        StoreSource.UserDefault => $"looked for {StoreLocator.FileName} in {SearchedFrom} and every folder above it, then at {Address}",
        _ => $"{Address} ({Reason})",
    };
}
