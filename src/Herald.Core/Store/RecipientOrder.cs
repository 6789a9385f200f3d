namespace Herald.Store;

/// <summary>
/// The order of recipient ids in the report streams: the byte order of their UTF-8 encoding, which is code point order
/// (SQLite's BINARY collation, PostgreSQL's <c>"C"</c>). <see cref="string.CompareOrdinal(string, string)"/> compares
/// UTF-16 code units, which differs only where a surrogate pair meets a character from U+E000 to U+FFFF.
/// </summary>
public sealed class RecipientOrder : IComparer<string>
{
    public static readonly RecipientOrder Instance = new();

    private RecipientOrder()
    {
    }

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i];
            var b = y[i];
            if (a != b)
            {
                // Surrogates (U+D800..DFFF) encode code points above U+FFFF: they sort after every BMP character.
                var sa = char.IsSurrogate(a);
                var sb = char.IsSurrogate(b);
                return sa == sb ? a.CompareTo(b) : sa ? 1 : -1;
            }
        }

        return x.Length.CompareTo(y.Length);
    }
}
