// Cost of address normalization at prepare's scale: 1,000,000 addresses, ASCII and international domains, in one run.
// Usage: dotnet run -c Release bench/idna-cost.cs
#:project ../src/Herald.Core/Herald.Core.csproj
#:property InvariantGlobalization=false
using System.Diagnostics;
using Herald.Recipients;

const int N = 1_000_000;
string[] asciiDomains = ["gmail.com", "Example.COM", "shop.example.org", "mail.example.net"];
string[] idnDomains = ["bücher.example", "BÜCHER.example", "bu\u0308cher.example", "münchen.example", "ｂücher.example", "пример.example"];
Console.WriteLine($"UTS #46 available: {EmailAddress.HasUts46}");
foreach (var (name, domains) in new[] { ("ascii", asciiDomains), ("international", idnDomains) })
{
    var addresses = new string[N];
    for (var i = 0; i < N; i++)
    {
        addresses[i] = $"User.{i}@{domains[i % domains.Length]}";
    }

    for (var round = 0; round < 2; round++)
    {
        var watch = Stopwatch.StartNew();
        var ok = 0;
        foreach (var raw in addresses)
        {
            if (EmailAddress.TryNormalize(raw, out var normalized, out _))
            {
                ok += EmailAddress.ComparisonKey(normalized).Length > 0 ? 1 : 0;
            }
        }

        Console.WriteLine($"{name,-14} round {round}: {N:N0} addresses in {watch.Elapsed.TotalSeconds:F2} s ({watch.Elapsed.TotalMilliseconds * 1000 / N:F2} µs each), {ok:N0} valid");
    }
}
