using System.Text;
using Herald.Tracking;

namespace Herald.Cli.Tests.Commands;

/// <summary>A temporary folder per test.</summary>
internal sealed class CommandTestFiles : IDisposable
{
    public CommandTestFiles()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "herald-cli-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public static TokenSigner Signer { get; } = new(Encoding.UTF8.GetBytes("cli-test-key-0123456789"));

    public string Path(string name) => System.IO.Path.Combine(Root, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
