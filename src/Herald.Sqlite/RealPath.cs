namespace Herald.Sqlite;

/// <summary>
/// The canonical path of a file: absolute, with every symbolic link on the way resolved, so two spellings of one
/// database file (a relative path, a symlinked folder, a symlink to the file) give one answer.
/// </summary>
internal static class RealPath
{
    // Linux gives up on a path after 40 links (ELOOP); so do we.
    private const int MaxLinks = 40;

    public static string Resolve(string path)
    {
        var pending = new Stack<string>();
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
        {
            pending.Push(part);
        }

        var current = root;
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }

            var next = Path.Combine(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is not { } target)
            {
                current = next;
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new IOException($"{path}: too many levels of symbolic links.");
            }

            // Resolve the target's own components too: it may be relative, or lead through further links.
            var absolute = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
            var targetRoot = Path.GetPathRoot(absolute) ?? root;
            foreach (var piece in absolute[targetRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Reverse())
            {
                pending.Push(piece);
            }

            current = targetRoot;
        }

        return current;
    }
}
