namespace Herald.Cli.Stores;

/// <summary>
/// The one rule every command finds its store by: <c>--db</c>, else <c>HERALD_DB</c>, else a <c>herald.db</c> found walking
/// up from the campaign file's folder (or the current folder for commands without a campaign), else the user's data
/// folder. So every campaign of a folder tree, <c>serve</c> and <c>suppress</c> share one store unless told otherwise.
/// </summary>
internal static class StoreLocator
{
    public const string Variable = "HERALD_DB";
    public const string FileName = "herald.db";

    public static StoreLocation Resolve(string? db, string? campaignFile)
    {
        if (!string.IsNullOrWhiteSpace(db))
        {
            return Named(db.Trim(), StoreSource.Option);
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Named(fromEnvironment.Trim(), StoreSource.Environment);
        }

        var start = campaignFile is null
            ? Directory.GetCurrentDirectory()
            : Path.GetDirectoryName(Path.GetFullPath(campaignFile))!;
        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
        {
            var candidate = Path.Combine(folder.FullName, FileName);
            if (File.Exists(candidate))
            {
                return new StoreLocation(candidate, StoreKind.Sqlite, StoreSource.FoundAbove, start);
            }
        }

        return new StoreLocation(Path.Combine(UserDataFolder(), "herald", FileName), StoreKind.Sqlite, StoreSource.UserDefault, start);
    }

    /// <summary><c>$XDG_DATA_HOME</c>, else <c>~/.local/share</c> (the XDG base directory default).</summary>
    public static string UserDataFolder()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
        {
            return xdg;
        }

        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
    }

    private static StoreLocation Named(string address, StoreSource source) =>
        IsPostgres(address)
            ? new StoreLocation(address, StoreKind.Postgres, source, null)
            : new StoreLocation(Path.GetFullPath(address), StoreKind.Sqlite, source, null);

    private static bool IsPostgres(string address) =>
        address.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || address.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);
}
