namespace Herald.Tracking;

internal static class AssemblyMarker
{
}
