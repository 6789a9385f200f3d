using System.CommandLine;
using System.Globalization;
using Herald.Campaigns;
using Herald.Cli.Sink;

namespace Herald.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var recipients = new Option<int>("--recipients")
        {
            Description = "How many recipients the demo campaign has.",
            DefaultValueFactory = _ => 10_000,
        };
        var keep = new Option<bool>("--keep") { Description = "Keep the demo folder (campaign, store) instead of deleting it." };
        var command = new Command("demo", "Scaffold a demo campaign in a temporary folder, start a capture sink in-process, send, print the summary.")
        {
            recipients,
            keep,
        };
        command.SetAction((result, stop) => CliRunner.RunAsync(async () =>
        {
            var count = result.GetValue(recipients);
            if (count < 1)
            {
                Console.Error.WriteLine("error: --recipients must be at least 1.");
                return CliRunner.Invalid;
            }

            var folder = Directory.CreateTempSubdirectory("herald-demo-").FullName;
            var kept = result.GetValue(keep);
            var captured = Path.Combine(folder, "captured");
            try
            {
                // With --keep the first messages stay as .eml files to look at (all of them would be ~50 kB each).
                var sink = await CaptureSink.StartAsync(
                    kept ? new CaptureSinkOptions { Port = 0, OutDir = captured, MaxFiles = KeptMessages } : new CaptureSinkOptions { Port = 0 }, stop)
                    .ConfigureAwait(false);
                await using (sink.ConfigureAwait(false))
                {
                    SampleCampaign.Write(folder, count, $"smtp://127.0.0.1:{sink.Port.ToString(CultureInfo.InvariantCulture)}", 20);
                    var campaignFile = Path.Combine(folder, "campaign.yml");
                    Console.WriteLine($"demo: {count} recipients in {folder}; capture sink on 127.0.0.1:{sink.Port}");
                    var code = await SendRunner.RunAsync(campaignFile, Path.Combine(folder, "herald.db"), resetInDoubt: false, stop).ConfigureAwait(false);
                    Console.WriteLine($"demo: the capture sink received {sink.Count} message(s).");
                    if (kept)
                    {
                        PrintNextSteps(folder, captured, campaignFile, Math.Min(sink.Count, KeptMessages));
                    }

                    return code;
                }
            }
            finally
            {
                if (!kept)
                {
                    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                    Directory.Delete(folder, recursive: true);
                }
            }
        }));
        return command;
    }

    /// <summary>How many captured messages --keep writes as files.</summary>
    private const long KeptMessages = 100;

    private static void PrintNextSteps(string folder, string captured, string campaignFile, long files)
    {
        var db = Path.Combine(folder, "herald.db");
        Console.WriteLine($"demo: kept {folder} (campaign.yml, body.html, recipients.csv and the store herald.db)");
        Console.WriteLine($"demo: the captured mail is in {captured}: the first {files} message(s) as .eml files (open one in a mail client or a text editor)");
        Console.WriteLine("next, try:");
        Console.WriteLine($"  herald status {campaignFile} --db {db}");
        Console.WriteLine($"  herald report {campaignFile} --db {db}");
        Console.WriteLine($"  herald serve --db {db}    # then open a tracked link of a captured message (the demo links point at http://127.0.0.1:8080)");
        Console.WriteLine($"  herald preview {campaignFile} --db {db} --out {Path.Combine(folder, "preview")} --limit 3");
        Console.WriteLine($"  herald init my-campaign    # your own campaign; see README.md");
    }
}
