namespace Herald.Campaigns;

/// <summary>How file paths appear in messages: relative to the working directory when below it, else absolute.</summary>
public static class DisplayPath
{
    public static string For(string path)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
    }
}
