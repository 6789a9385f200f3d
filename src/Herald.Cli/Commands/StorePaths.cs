namespace Herald.Cli.Commands;

/// <summary>Where the store lives: <c>--db</c>, else <c>HERALD_DB</c>, else <c>herald.db</c> beside the campaign file.</summary>
internal static class StorePaths
{
    public const string Variable = "HERALD_DB";

    public static string Resolve(string? db, string? campaignFile)
    {
        if (!string.IsNullOrWhiteSpace(db))
        {
            return db;
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }

        var folder = campaignFile is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(campaignFile))!;
        return Path.Combine(folder, "herald.db");
    }
}
