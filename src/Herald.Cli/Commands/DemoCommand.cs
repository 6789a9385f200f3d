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
            try
            {
                var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0 }, stop).ConfigureAwait(false);
                await using (sink.ConfigureAwait(false))
                {
                    SampleCampaign.Write(folder, count, $"smtp://127.0.0.1:{sink.Port.ToString(CultureInfo.InvariantCulture)}", 20);
                    var campaignFile = Path.Combine(folder, "campaign.yml");
                    Console.WriteLine($"demo: {count} recipients in {folder}; capture sink on 127.0.0.1:{sink.Port}");
                    var code = await SendRunner.RunAsync(campaignFile, Path.Combine(folder, "herald.db"), resetInDoubt: false, SendTuning.Default, stop).ConfigureAwait(false);
                    Console.WriteLine($"demo: the capture sink received {sink.Count} message(s).");
                    return code;
                }
            }
            finally
            {
                if (!result.GetValue(keep))
                {
                    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                    Directory.Delete(folder, recursive: true);
                }
                else
                {
                    Console.WriteLine($"demo: kept {folder}");
                }
            }
        }));
        return command;
    }
}
