namespace Herald.Sqlite;

internal static class AssemblyMarker
{
}
