using System.Diagnostics;
using Herald.Cli.Commands;
using Herald.Cli.Tests.Sink;

namespace Herald.Cli.Tests.Commands;

public sealed class SinkCommandTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-sink-cmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sink_process_prints_its_port_accepts_mail_and_stops_cleanly_on_SIGTERM()
    {
        var logFile = Path.Combine(_dir, "sink.log");
        using var process = StartHerald("sink", "--port", "0", "--log", logFile, "--out", Path.Combine(_dir, "eml"));
        try
        {
            var port = await ReadPortAsync(process);
            using var message = CaptureSinkTests.NewMessage("ann@example.org", "proc-1@herald.test");
            await CaptureSinkTests.SendAsync(port, [message]);

            // The log line is written before the 250 reply, so it is there as soon as the send returns.
            Assert.Contains("\t<proc-1@herald.test>\tann@example.org\t", await File.ReadAllTextAsync(logFile, Ct));

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(Ct);
            }

            await process.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("stopped: 1 messages received", await process.StandardOutput.ReadToEndAsync(Ct));
            Assert.Single(Directory.GetFiles(Path.Combine(_dir, "eml"), "*.eml"));
        }
        finally
        {
            KillQuietly(process);
        }
    }

    [Fact]
    public async Task Log_lines_survive_a_SIGKILL()
    {
        var logFile = Path.Combine(_dir, "sink.log");
        using var process = StartHerald("sink", "--port", "0", "--log", logFile);
        try
        {
            var port = await ReadPortAsync(process);
            using var first = CaptureSinkTests.NewMessage("a@example.org", "k1@herald.test");
            using var second = CaptureSinkTests.NewMessage("b@example.org", "k2@herald.test");
            await CaptureSinkTests.SendAsync(port, [first, second]);

            process.Kill();
            await process.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);

            var recipients = (await File.ReadAllLinesAsync(logFile, Ct)).Select(l => l.Split('\t')[2]);
            Assert.Equal(["a@example.org", "b@example.org"], recipients);
        }
        finally
        {
            KillQuietly(process);
        }
    }

    [Fact]
    public async Task Bad_delay_is_a_clear_error()
    {
        using var process = StartHerald("sink", "--port", "0", "--delay", "fast");
        try
        {
            await process.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.NotEqual(0, process.ExitCode);
            var error = await process.StandardError.ReadToEndAsync(Ct);
            Assert.Contains("--delay fast", error);
            Assert.DoesNotContain("   at ", error);
        }
        finally
        {
            KillQuietly(process);
        }
    }
    private static Process StartHerald(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "herald.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static async Task<int> ReadPortAsync(Process process)
    {
        var line = await process.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(line);
        Assert.StartsWith("listening on 127.0.0.1:", line);
        return int.Parse(line["listening on 127.0.0.1:".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void KillQuietly(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
        }
    }
}
