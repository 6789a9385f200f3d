using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Herald.Campaigns;
using Herald.Cli.Sink;

namespace Herald.Cli.Commands;

/// <summary><c>herald sink</c>: a local SMTP server that accepts everything, to look at what a campaign sends.</summary>
internal static class SinkCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port")
        {
            Description = "TCP port to listen on (0 picks a free one; the first line printed names it)",
            DefaultValueFactory = _ => 2525,
        };
        var bind = new Option<string>("--bind")
        {
            Description = "Address to listen on; loopback by default because the sink accepts mail from anyone",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var outDir = new Option<string?>("--out") { Description = "Keep every message as a .eml file in this folder" };
        var log = new Option<string?>("--log")
        {
            Description = "Append one line per accepted message: unix-ms, Message-ID, recipients, bytes (tab-separated)",
        };
        var delay = new Option<TimeSpan>("--delay")
        {
            Description = "Wait this long before answering each final dot (e.g. 50ms): a slow relay",
            DefaultValueFactory = _ => TimeSpan.Zero,
            CustomParser = ParseDelay,
        };

        var command = new Command("sink", "Run a local SMTP server that accepts every message (a capture sink)");
        command.Add(port);
        command.Add(bind);
        command.Add(outDir);
        command.Add(log);
        command.Add(delay);
        command.SetAction((ParseResult r, CancellationToken ct) => CliRunner.RunAsync(() => RunAsync(
            new CaptureSinkOptions
            {
                Port = r.GetValue(port),
                Address = ParseAddress(r.GetValue(bind)!),
                OutDir = r.GetValue(outDir),
                LogFile = r.GetValue(log),
                Delay = r.GetValue(delay),
            },
            ct)));
        return command;
    }

    private static async Task<int> RunAsync(CaptureSinkOptions options, CancellationToken cancellationToken)
    {
        if (options.Port is < 0 or > 65535)
        {
            throw new HeraldException($"--port {options.Port}: a port is between 0 and 65535");
        }

        CaptureSink sink;
        try
        {
            sink = await CaptureSink.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new HeraldException($"cannot listen on {options.Address}:{options.Port}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HeraldException($"cannot open {options.LogFile ?? options.OutDir}: {ex.Message}", ex);
        }

        await using (sink.ConfigureAwait(false))
        {
            // Tests and scripts read the real port from this first line.
            Console.Out.WriteLine($"listening on {sink.EndPoint}");
            await ReportUntilStoppedAsync(sink, cancellationToken).ConfigureAwait(false);
        }

        return CliRunner.Ok;
    }

    private static async Task ReportUntilStoppedAsync(CaptureSink sink, CancellationToken cancellationToken)
    {
        var terminal = !Console.IsOutputRedirected;
        var clock = Stopwatch.StartNew();
        long shown = 0;
        var shownAt = TimeSpan.Zero;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var count = sink.Count;
                if (count == shown)
                {
                    continue;
                }

                var now = clock.Elapsed;
                var rate = (count - shown) / (now - shownAt).TotalSeconds;
                var text = string.Create(CultureInfo.InvariantCulture, $"received {count} messages ({rate:F0}/s)");
                // On a terminal one line is rewritten in place; in a log file every second gets its own line.
                Console.Out.Write(terminal ? $"\r{text}   " : text + Environment.NewLine);
                shown = count;
                shownAt = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or SIGTERM: the normal way to stop a sink.
        }

        Console.Out.WriteLine((terminal ? Environment.NewLine : string.Empty) + $"stopped: {sink.Count} messages received");
    }

    private static IPAddress ParseAddress(string text) =>
        IPAddress.TryParse(text, out var address) ? address : throw new HeraldException($"--bind {text}: not an IP address");

    private static TimeSpan ParseDelay(ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "0ms" : result.Tokens[0].Value;
        if (Durations.TryParse(text, out var value))
        {
            return value;
        }

        result.AddError($"--delay {text}: expected a duration such as 50ms, 2s, 5m or 1h");
        return TimeSpan.Zero;
    }
}
