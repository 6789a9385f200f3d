using Herald.Cli.Stores;

namespace Herald.Cli.Commands;

/// <summary>Where <c>herald serve</c> keeps its event journal unless <c>--journal</c> says otherwise.</summary>
internal static class JournalLocation
{
    public const string SyncVariable = "HERALD_JOURNAL_SYNC";

    /// <summary>
    /// Beside a SQLite database (<c>herald.db.journal</c>); for a database server, in the user's state folder
    /// (<c>$XDG_STATE_HOME/herald/journal/HOST_PORT_DB</c>), one folder per store: every server on this host writing to
    /// that store shares it, each with its own files, and takes over what a dead one left.
    /// </summary>
    public static string Default(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        var store = location.Address;
        if (location.Kind == StoreKind.Sqlite)
        {
            return store + ".journal";
        }

        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(state))
        {
            state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        }

        var name = Uri.TryCreate(store, UriKind.Absolute, out var uri)
            ? $"{uri.Host}_{(uri.IsDefaultPort ? 5432 : uri.Port)}_{uri.AbsolutePath.Trim('/')}"
            : store;
        var safe = string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        return Path.Combine(state, "herald", "journal", safe);
    }

    /// <summary><c>HERALD_JOURNAL_SYNC=full</c>: fsync each group write, to survive a power loss too (not only a kill).</summary>
    public static bool FlushToDisk =>
        string.Equals(Environment.GetEnvironmentVariable(SyncVariable), "full", StringComparison.OrdinalIgnoreCase);
}
