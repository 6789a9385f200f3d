using System.Diagnostics;

namespace Herald.Benchmarks;

/// <summary>
/// CPU time (not wall time) per render + MIME write, on one thread: on a shared, oversubscribed machine wall-clock
/// benchmarks inflate with the load, thread CPU time much less. Run: <c>dotnet run -c Release -- render-cpu</c>.
/// </summary>
internal static class RenderCpuProbe
{
    private static void Measure(string name, Action action)
    {
        const int Count = 3000;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < Count; i++)
        {
            action();
        }

        Console.WriteLine($"{name}: {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / Count:F1} us CPU");
    }

    public static void Run()
    {
        var bench = new RenderBenchmarks();
        bench.Setup();
        try
        {
            for (var i = 0; i < 2000; i++)
            {
                bench.RenderAndWrite();
            }

            const int Count = 5000;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            long bytes = 0;
            for (var i = 0; i < Count; i++)
            {
                bytes += bench.RenderAndWrite();
            }

            wall.Stop();
            var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Console.WriteLine($"messages: {Count}, message size: {bytes / Count} bytes");
            Console.WriteLine($"CPU per message (process, incl. GC): {cpuUsed.TotalMicroseconds / Count:F1} us");
            Console.WriteLine($"wall per message: {wall.Elapsed.TotalMicroseconds / Count:F1} us");
            Console.WriteLine($"allocated per message: {allocated / Count / 1024.0:F1} KB");
            Measure("create only", () => bench.Render());
            Measure("render + write", () => bench.RenderAndWrite());
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
