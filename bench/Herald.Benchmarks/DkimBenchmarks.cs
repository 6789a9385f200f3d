using System.Text;
using BenchmarkDotNet.Attributes;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Dkim;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Benchmarks;

/// <summary>
/// What DKIM adds to one email: render + MIME + the wire buffer (serialized, dot-stuffed) without a signature, and
/// with RSA-2048, Ed25519 or both signed into that buffer. Target: DKIM on adds ≤ 600 µs per email.
/// </summary>
[MemoryDiagnoser]
public class DkimBenchmarks
{
    private string _directory = null!;
    private CompiledCampaign _compiled = null!;
    private WorkItem _item = null!;
    private DkimSigner _rsa = null!;
    private DkimSigner _ed25519 = null!;
    private DkimSigner _both = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "herald-bench-dkim-" + Environment.ProcessId);
        var campaign = CampaignLoader.Load(SampleCampaign.Write(_directory, 1));
        string[] columns = ["email", "first_name", "last_name", "city", "segment"];
        _compiled = CampaignTemplates.Compile(campaign, columns, new TokenSigner(Encoding.UTF8.GetBytes("benchmark-key-0123456789")));
        var context = RenderContextSerializer.Serialize(columns, ["ada.smith.0@example.com", "Ada", "Smith", "Springfield", "garden"]);
        _item = new WorkItem(1, "9c47aa38e6c004e3de93", "ada.smith.0@example.com", context, 0, null, _compiled.MessageIdFor("9c47aa38e6c004e3de93"));
        var rsa = DkimKey.Generate(DkimAlgorithm.RsaSha256, 2048);
        var ed = DkimKey.Generate(DkimAlgorithm.Ed25519Sha256);
        var source = new DkimKeySource("/dev/null", null, default) { Label = "bench" };
        _rsa = new DkimSigner(new DkimOptions { Domain = "shop.example.com", Selector = "s1", Key = source }, rsa);
        _ed25519 = new DkimSigner(new DkimOptions { Domain = "shop.example.com", Selector = "s2", Key = source, Algorithm = DkimAlgorithm.Ed25519Sha256 }, ed);
        _both = new DkimSigner(new DkimOptions { Domain = "shop.example.com", Selector = "s1", Key = source, Algorithm = DkimAlgorithm.Both, Ed25519Selector = "s2", Ed25519Key = source }, rsa, ed);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark(Baseline = true)]
    public int Unsigned() => Wire(null);

    [Benchmark]
    public int RsaSha256() => Wire(_rsa);

    [Benchmark]
    public int Ed25519Sha256() => Wire(_ed25519);

    [Benchmark]
    public int Both() => Wire(_both);

    /// <summary>The unsigned message as the signers see it on the wire (dot-stuffed, without the final dot), and the signers, for the probe's parts.</summary>
    internal (byte[] Message, DkimSigner Rsa, DkimSigner Ed25519) Parts()
    {
        using var message = _compiled.Create(_item);
        using var wire = WireMessage.Create(message, null);
        return (wire.Bytes[..^".\r\n".Length].ToArray(), _rsa, _ed25519);
    }

    private int Wire(DkimSigner? signer)
    {
        using var message = _compiled.Create(_item);
        using var wire = WireMessage.Create(message, signer);
        return wire.Bytes.Length;
    }
}
