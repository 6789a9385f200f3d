using System.Text;
using Herald.Campaigns;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Core.Tests;

/// <summary>A temporary folder for campaign files, deleted after the test.</summary>
internal sealed class TestFiles : IDisposable
{
    public TestFiles()
    {
        Root = Path.Combine(Path.GetTempPath(), "herald-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Write(string name, string content)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    public string WriteBytes(string name, byte[] content)
    {
        var path = Path.Combine(Root, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>A minimal valid campaign; <paramref name="extra"/> lines are appended to the YAML.</summary>
    public string Campaign(string html = "<html><body><p>Hi {{ first_name }}</p></body></html>", string recipients = "email,first_name\na@example.com,Ann\n", string extra = "", string subject = "Hello {{ first_name }}")
    {
        Write("body.html", html);
        Write("recipients.csv", recipients);
        return Write("campaign.yml", $"""
            id: test-campaign
            from: "Shop <news@shop.example.com>"
            subject: "{subject}"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "https://t.example.com" {"}"}
            postal_address: "1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            {extra}
            """);
    }

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

    public static TokenSigner Signer { get; } = new(Encoding.UTF8.GetBytes("test-key-0123456789abcdef"));

    public static WorkItem Item(CompiledCampaign compiled, string recipientId, string email, params (string Name, object? Value)[] fields)
    {
        var context = RenderContextSerializer.Serialize([.. fields.Select(f => f.Name)], [.. fields.Select(f => f.Value)]);
        return new WorkItem(1, recipientId, email, context, 0, null, compiled.MessageIdFor(recipientId));
    }
}
