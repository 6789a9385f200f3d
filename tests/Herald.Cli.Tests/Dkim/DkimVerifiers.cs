using System.Diagnostics;

namespace Herald.Cli.Tests.Dkim;

/// <summary>
/// The two independent DKIM verifiers the tests check signatures with: Debian's python3-dkim (dkimpy) and the npm
/// package mailauth (installed in <c>verifiers/node_modules</c> by <c>npm ci</c>). A missing verifier fails the test.
/// </summary>
internal static class DkimVerifiers
{
    /// <summary>Debian's interpreter: the <c>python3</c> on PATH may be another one, without the dkim module.</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);

    public static string Folder { get; } = FindFolder();

    /// <summary>dkimpy's verdicts: file name → <c>selector=pass|fail,…</c>, one entry per DKIM-Signature, top to bottom.</summary>
    public static async Task<Dictionary<string, string>> DkimpyAsync(string messages, string records)
    {
        if (!File.Exists(Python))
        {
            Assert.Fail($"{Python} is missing: install Debian's python3-dkim and python3-nacl (apt-get install python3-dkim python3-nacl)");
        }

        return await RunAsync(Python, [Path.Combine(Folder, "verify_dkimpy.py"), messages, records], "python3-dkim (apt-get install python3-dkim python3-nacl)");
    }

    /// <summary>mailauth's verdicts, in the same shape (<c>selector=pass|fail|neutral (comment)</c>).</summary>
    public static async Task<Dictionary<string, string>> MailauthAsync(string messages, string records)
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", "mailauth")))
        {
            Assert.Fail($"mailauth is not installed: run 'npm ci' in {Folder} (.ci/run does)");
        }

        return await RunAsync("node", [Path.Combine(Folder, "verify-mailauth.mjs"), messages, records], "node and mailauth (npm ci in the verifiers folder)");
    }

    private static async Task<Dictionary<string, string>> RunAsync(string program, string[] args, string what)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"cannot run {program} ({ex.Message}): install {what}");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            try
            {
                await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }

            var output = await stdout;
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('\t'))
                .ToDictionary(parts => parts[0], parts => parts.Length > 1 ? parts[1] : "", StringComparer.Ordinal);
        }
    }

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Dkim", "verifiers");
            if (File.Exists(Path.Combine(dir.FullName, "Herald.Cli.Tests.csproj")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/Herald.Cli.Tests/Dkim/verifiers not found above " + AppContext.BaseDirectory);
    }
}
