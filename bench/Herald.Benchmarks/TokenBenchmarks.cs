using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Herald.Tracking;

namespace Herald.Benchmarks;

/// <summary>Signing one click token (an email carries ~20 of them, plus the open pixel and the unsubscribe URL).</summary>
[MemoryDiagnoser]
public class TokenBenchmarks
{
    private readonly TokenSigner _signer = new(SHA256.HashData("bench-key"u8));
    private readonly TrackingToken _click = new(TokenKind.Click, "bench-standard", "123456", 7, "https://shop.example.com/p/SKU-04729?utm_source=herald&utm_medium=email&utm_content=rank-3");
    private readonly byte[] _key = SHA256.HashData("bench-key"u8);
    private readonly byte[] _payload = Encoding.UTF8.GetBytes("bench-standard|123456|7|https://shop.example.com/p/SKU-04729?utm_source=herald&utm_medium=email&utm_content=rank-3");

    private string _token = null!;

    [GlobalSetup]
    public void Setup() => _token = _signer.Create(_click);

    [Benchmark]
    public string SignClickToken() => _signer.Create(_click);

    /// <summary>What the tracker does per redirect (it must sustain ≥ 20k/s): canonical check, decode, HMAC, parse.</summary>
    [Benchmark]
    public TrackingToken? VerifyClickToken() => _signer.TryVerify(_token, out var token) ? token : null;

    /// <summary>One per email when the campaign has a bounce domain: the signed, base32 VERP address.</summary>
    [Benchmark]
    public string CreateReturnPath() => _signer.CreateReturnPath("bench-standard", 123_456, "bounces.shop.example.com");

    /// <summary>The one-shot HMAC the signer used before (key set up on every call).</summary>
    [Benchmark(Baseline = true)]
    public byte[] OneShotHmac() => HMACSHA256.HashData(_key, _payload);
}
