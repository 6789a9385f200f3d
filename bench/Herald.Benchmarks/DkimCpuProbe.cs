using System.Diagnostics;

namespace Herald.Benchmarks;

/// <summary>
/// CPU time per email of <see cref="DkimBenchmarks"/>'s cases, interleaved in rounds so that load changes hit every
/// case alike: what DKIM adds in CPU, which is what the ≤ 600 µs target is about. Run:
/// <c>dotnet run -c Release -- dkim-cpu</c>.
/// </summary>
internal static class DkimCpuProbe
{
    public static void Run()
    {
        var bench = new DkimBenchmarks();
        bench.Setup();
        try
        {
            (string Name, Func<int> Action)[] cases = [("unsigned", bench.Unsigned), ("rsa-sha256", bench.RsaSha256), ("ed25519-sha256", bench.Ed25519Sha256), ("both", bench.Both)];
            foreach (var (_, action) in cases)
            {
                for (var i = 0; i < 500; i++)
                {
                    action();
                }
            }

            const int Rounds = 10, PerRound = 300;
            var cpu = new double[cases.Length];
            for (var round = 0; round < Rounds; round++)
            {
                for (var c = 0; c < cases.Length; c++)
                {
                    var start = Process.GetCurrentProcess().TotalProcessorTime;
                    for (var i = 0; i < PerRound; i++)
                    {
                        cases[c].Action();
                    }

                    cpu[c] += (Process.GetCurrentProcess().TotalProcessorTime - start).TotalMicroseconds;
                }
            }

            var baseline = cpu[0] / (Rounds * PerRound);
            for (var c = 0; c < cases.Length; c++)
            {
                var each = cpu[c] / (Rounds * PerRound);
                Console.WriteLine($"{cases[c].Name}: {each:F0} us CPU per email (render + MIME + wire{(c == 0 ? "" : $"; DKIM adds {each - baseline:F0} us")})");
            }
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
