using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Cli.Sink;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Tests.Bounces;

/// <summary>A campaign with a bounce domain, really sent by <c>herald send</c> to a capture sink; its store and recipients.</summary>
internal sealed class SentCampaign : IDisposable
{
    public const string Domain = "bounces.shop.example.com";
    public const string CampaignId = "crash-test";

    private SentCampaign(string root) => Root = root;

    public string Root { get; }

    public string Db => Path.Combine(Root, "herald.db");

    public string Quarantine => Path.Combine(Root, "quarantine");

    public string CampaignFile => Path.Combine(Root, "campaign", "campaign.yml");

    public IReadOnlyList<RecipientRecord> Rows { get; private set; } = [];

    /// <summary>The signer <c>herald</c> uses with the test secret.</summary>
    public static TokenSigner Signer { get; } = new(SHA256.HashData(Encoding.UTF8.GetBytes(HeraldProcess.TestSecret)));

    public static async Task<SentCampaign> CreateAsync(int recipients, string extra = $"bounces: {{ domain: {Domain} }}")
    {
        var campaign = new SentCampaign(Directory.CreateTempSubdirectory("herald-bounces-cli-").FullName);
        await using (var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0 }, TestContext.Current.CancellationToken))
        {
            await campaign.SendAsync(recipients, sink.Port, extra);
        }

        await campaign.ReloadAsync();
        return campaign;
    }

    /// <summary>The same, sent to a relay that refuses at RCPT the addresses <paramref name="refuse"/> answers a reply for (<c>550</c> + it).</summary>
    public static async Task<SentCampaign> CreateAsync(int recipients, Func<string, string?> refuse, string extra = $"bounces: {{ domain: {Domain} }}")
    {
        var campaign = new SentCampaign(Directory.CreateTempSubdirectory("herald-bounces-cli-").FullName);
        await using (var relay = RecordingRelay.Start(refuse))
        {
            await campaign.SendAsync(recipients, relay.Port, extra);
        }

        await campaign.ReloadAsync();
        return campaign;
    }

    private async Task SendAsync(int recipients, int port, string extra)
    {
        HeraldProcess.WriteCampaign(Path.GetDirectoryName(CampaignFile)!, recipients, port, 2, extra);
        var send = await HeraldProcess.RunAsync("send", CampaignFile, "--db", Db);
        Assert.True(send.Exit == 0, send.Out + send.Error);
    }

    public async Task ReloadAsync()
    {
        var rows = new List<RecipientRecord>();
        await using (var store = await SqliteDeliveryStore.OpenAsync(Db, TestContext.Current.CancellationToken))
        {
            await foreach (var row in store.ReadRecipientsAsync(CampaignId, TestContext.Current.CancellationToken))
            {
                rows.Add(row);
            }
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Rows = rows;
    }

    public string Email(int i) => Rows[i].Email;

    public string ReturnPath(int i) => Signer.CreateReturnPath(CampaignId, Rows[i].Id, Domain);

    /// <summary>A corpus file filled in for recipient <paramref name="i"/> (CRLF line ends, as on the wire).</summary>
    public string Corpus(string name, int i)
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", name));
        var unsubscribe = "https://t.shop.example.com/u/" + Signer.Create(new TrackingToken(TokenKind.Unsubscribe, CampaignId, Rows[i].RecipientId, 0, null));
        return text.Replace("{{VERP}}", ReturnPath(i), StringComparison.Ordinal)
            .Replace("{{EMAIL}}", Email(i), StringComparison.Ordinal)
            .Replace("{{MSGID}}", Rows[i].MessageId.Trim('<', '>'), StringComparison.Ordinal)
            .Replace("{{UNSUB_URL}}", unsubscribe, StringComparison.Ordinal)
            .ReplaceLineEndings("\r\n");
    }

    /// <summary>The suppression list, read through the CLI.</summary>
    public async Task<string> SuppressionsAsync()
    {
        var list = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        Assert.Equal(0, list.Exit);
        return list.Out;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A running <c>herald bounces listen</c> process and what it printed.</summary>
internal sealed class ListenProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;

    private ListenProcess(Process process)
    {
        Process = process;
        _reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                _lines.Enqueue(line);
                const string prefix = "listening on 127.0.0.1:";
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    _port.TrySetResult(int.Parse(line[prefix.Length..], CultureInfo.InvariantCulture));
                }
            }

            _port.TrySetException(new InvalidOperationException("herald bounces listen ended before it listened: " + string.Join("\n", _lines)));
        });
    }

    public Process Process { get; }

    public int Port { get; private set; }

    public IEnumerable<string> Lines => _lines;

    public static async Task<ListenProcess> StartAsync(params string[] args)
    {
        var listen = new ListenProcess(HeraldProcess.Start(null, ["bounces", "listen", "--listen", "127.0.0.1:0", .. args]));
        try
        {
            listen.Port = await listen._port.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        }
        catch
        {
            listen.Dispose();
            throw;
        }

        return listen;
    }

    /// <summary>SIGTERM, then the exit code and the whole output; the process must end within <paramref name="bound"/>.</summary>
    public async Task<(int Exit, string Out, TimeSpan Took)> StopAsync(TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        await Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(bound, TestContext.Current.CancellationToken);
        var took = clock.Elapsed;
        await _reader.WaitAsync(bound, TestContext.Current.CancellationToken);
        return (Process.ExitCode, string.Join("\n", _lines), took);
    }

    public void Dispose()
    {
        HeraldProcess.KillQuietly(Process);
        Process.Dispose();
    }
}
