using System.Text;
using BenchmarkDotNet.Attributes;
using Herald.Campaigns;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;
using MimeKit;

namespace Herald.Benchmarks;

/// <summary>
/// Render + MIME of the sample campaign: ~45 kB HTML (8 product blocks, 21 tracked links, open pixel) plus the derived
/// text part, written to a null stream as the SMTP client would. Target: ≤ 150 µs and ≤ 200 kB allocated per email.
/// </summary>
[MemoryDiagnoser]
public class RenderBenchmarks
{
    private static readonly FormatOptions Wire = new() { NewLineFormat = NewLineFormat.Dos };
    private string _directory = null!;
    private CompiledCampaign _compiled = null!;
    private WorkItem _item = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "herald-bench-" + Environment.ProcessId);
        var path = SampleCampaign.Write(_directory, 1);
        if (Environment.GetEnvironmentVariable("HERALD_BENCH_NO_TRACKING") == "1")
        {
            File.WriteAllText(path, File.ReadAllText(path).Replace("clicks: true", "clicks: false", StringComparison.Ordinal).Replace("opens: true", "opens: false", StringComparison.Ordinal));
        }

        var campaign = CampaignLoader.Load(path);
        string[] columns = ["email", "first_name", "last_name", "city", "segment"];
        _compiled = CampaignTemplates.Compile(campaign, columns, new TokenSigner(Encoding.UTF8.GetBytes("benchmark-key-0123456789")));
        var context = RenderContextSerializer.Serialize(columns, ["ada.smith.0@example.com", "Ada", "Smith", "Springfield", "garden"]);
        _item = new WorkItem(1, "9c47aa38e6c004e3de93", "ada.smith.0@example.com", context, 0, null, _compiled.MessageIdFor("9c47aa38e6c004e3de93"));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark]
    public MimeMessage Render()
    {
        var message = _compiled.Create(_item);
        message.Dispose();
        return message;
    }

    [Benchmark]
    public long RenderAndWrite()
    {
        using var message = _compiled.Create(_item);
        using var sink = new CountingStream();
        message.WriteTo(Wire, sink);
        return sink.Length;
    }
}
