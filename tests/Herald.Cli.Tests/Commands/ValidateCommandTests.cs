using System.Diagnostics;
using Herald.Campaigns;
using Herald.Cli.Commands;

namespace Herald.Cli.Tests.Commands;

public class ValidateCommandTests
{
    [Fact]
    public void Validate_lists_skipped_rows_without_failing()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 3);
        File.AppendAllText(Path.Combine(files.Path("c"), "recipients.csv"), "not-an-address,X,Y,Z,home\nada.smith.0@EXAMPLE.com,A,B,C,home\n");
        using var output = new StringWriter();
        Assert.Equal(0, ValidateCommand.Run(path, output, TestContext.Current.CancellationToken));
        var text = output.ToString();
        Assert.Contains("recipients.csv:5: skipped: invalid address: missing @", text, StringComparison.Ordinal);
        Assert.Contains("recipients.csv:6: skipped: duplicate address", text, StringComparison.Ordinal);
        Assert.Contains("3 recipients, 1 invalid and 1 duplicate", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_reports_every_problem_with_its_location()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 3);
        File.WriteAllText(path, File.ReadAllText(path).Replace("subject:", "subjet: x\nsubject:", StringComparison.Ordinal));
        File.AppendAllText(Path.Combine(files.Path("c"), "body.html"), "\n{{ coupon_code }}\n");
        var ex = Assert.Throws<CampaignException>(() => ValidateCommand.Run(path, TextWriter.Null, TestContext.Current.CancellationToken));
        Assert.Contains(ex.Problems, p => p.ToString().Contains("campaign.yml:4:1: unknown key 'subjet'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_reports_unknown_template_variables_and_bad_rows()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 3);
        var html = Path.Combine(files.Path("c"), "body.html");
        var lines = File.ReadAllLines(html).Length;
        File.AppendAllText(html, "\n{{ coupon_code }}\n");
        var ex = Assert.Throws<CampaignException>(() => ValidateCommand.Run(path, TextWriter.Null, TestContext.Current.CancellationToken));
        Assert.Contains(ex.Problems, p => p.ToString().EndsWith($"body.html:{lines + 1}:4: unknown variable 'coupon_code' (not a recipient column, data set or built-in)", StringComparison.Ordinal));

        File.WriteAllText(html, File.ReadAllText(html).Replace("{{ coupon_code }}", "", StringComparison.Ordinal));
        File.AppendAllText(Path.Combine(files.Path("c"), "recipients.csv"), "x@example.com,\"unclosed\n");
        var csv = Assert.Throws<CampaignException>(() => ValidateCommand.Run(path, TextWriter.Null, TestContext.Current.CancellationToken));
        Assert.Contains("recipients.csv:5: malformed CSV: unbalanced quotes", csv.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_as_a_process_prints_problems_and_exits_1_without_a_stack_trace()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 3);
        File.WriteAllText(path, File.ReadAllText(path).Replace("relays:", "relays:\n  - url: ftp://x\n", StringComparison.Ordinal).Replace("html: body.html", "html: nope.html", StringComparison.Ordinal));
        var herald = Path.Combine(AppContext.BaseDirectory, "herald.dll");
        var start = new ProcessStartInfo("dotnet", [herald, "validate", path])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, process.ExitCode);
        Assert.Matches(@"campaign\.yml:\d+:\d+: html: file not found: nope\.html", stderr);
        Assert.Matches(@"campaign\.yml:\d+:\d+: url: 'ftp://x' is not an smtp:// or smtps:// URL", stderr);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stderr, StringComparison.Ordinal);
    }
}
