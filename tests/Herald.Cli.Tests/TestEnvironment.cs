using System.Runtime.CompilerServices;

namespace Herald.Cli.Tests;

/// <summary>
/// Commands called in-process resolve their store from this process's environment: point the user's data folder at a
/// scratch folder and drop HERALD_DB, so no test ever reads or writes the developer's own store.
/// </summary>
internal static class TestEnvironment
{
    /// <summary>This test run's scratch root; removed when the run ends.</summary>
    public static string RunFolder { get; } = Path.Combine(Path.GetTempPath(), "herald-cli-tests", "run-" + Guid.NewGuid().ToString("N")[..12]);

    [ModuleInitializer]
    internal static void Isolate()
    {
        Environment.SetEnvironmentVariable("HERALD_DB", null);
        var folder = Path.Combine(RunFolder, "xdg-in-process");
        Directory.CreateDirectory(folder);
        Environment.SetEnvironmentVariable("XDG_DATA_HOME", folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(RunFolder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
    }
}
