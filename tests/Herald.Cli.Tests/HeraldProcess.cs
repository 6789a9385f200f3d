using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Herald.Cli.Tests;

/// <summary>Runs the real <c>herald</c> tool as a child process.</summary>
internal static class HeraldProcess
{
    public const string TestSecret = "test-secret-0123456789abcdef";

    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    public static Process Start(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "herald.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HERALD_SECRET"] = TestSecret;
        start.Environment.Remove("HERALD_DB");
        start.Environment.Remove("HERALD_DASHBOARD_TOKEN");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        return Process.Start(start)!;
    }

    /// <summary>Runs to completion within <see cref="Bound"/> and returns exit code, stdout and stderr.</summary>
    public static Task<(int Exit, string Out, string Error)> RunAsync(params string[] args) => RunAsync(Bound, args);

    /// <summary>Runs to completion (bounded) and returns exit code, stdout and stderr.</summary>
    public static async Task<(int Exit, string Out, string Error)> RunAsync(TimeSpan bound, params string[] args)
    {
        using var process = Start(null, args);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(bound, TestContext.Current.CancellationToken);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Reads the <c>listening on 127.0.0.1:PORT</c> line a sink prints first.</summary>
    public static async Task<int> ReadSinkPortAsync(Process sink)
    {
        var line = await sink.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        const string prefix = "listening on 127.0.0.1:";
        Assert.NotNull(line);
        Assert.StartsWith(prefix, line, StringComparison.Ordinal);
        return int.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    public static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>A small but complete campaign with <paramref name="recipients"/> recipients.</summary>
    public static string WriteCampaign(string folder, int recipients, int port, int connections, string extra = "")
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "campaign.yml"), $"""
            id: crash-test
            from: "Example Shop <news@shop.example.com>"
            subject: "{"{{"} first_name {"}}"}, your spring picks"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "https://t.shop.example.com", clicks: true, opens: true {"}"}
            postal_address: "Example Shop Inc., 1 Market St, Springfield"
            relays:
              - url: smtp://127.0.0.1:{port}
                connections: {connections}
            {extra}
            """);
        File.WriteAllText(Path.Combine(folder, "body.html"), """
            <html><body><h1>Hello {{ first_name }}</h1>
            <p><a href="https://shop.example.com/spring?c={{ recipient_id }}">Spring sale</a></p>
            <p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>
            </body></html>
            """);
        var csv = new StringBuilder("email,first_name\n");
        for (var i = 0; i < recipients; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"user{i}@example.com,User{i}\n");
        }

        File.WriteAllText(Path.Combine(folder, "recipients.csv"), csv.ToString());
        return Path.Combine(folder, "campaign.yml");
    }
}
