using Herald.Campaigns;
using Herald.Cli.Commands;

namespace Herald.Cli.Tests.Commands;

public class InitCommandTests
{
    [Fact]
    public async Task Init_scaffolds_a_campaign_that_validates()
    {
        using var files = new CommandTestFiles();
        var dir = files.Path("camp");
        var exit = await InitCommand.Create().Parse([dir]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(dir, "campaign.yml")));
        Assert.True(File.Exists(Path.Combine(dir, "body.html")));
        Assert.Equal(6, File.ReadAllLines(Path.Combine(dir, "recipients.csv")).Length);
        using var output = new StringWriter();
        Assert.Equal(0, ValidateCommand.Run(Path.Combine(dir, "campaign.yml"), output, TestContext.Current.CancellationToken));
        Assert.Contains("5 recipients", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, await InitCommand.Create().Parse([dir]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void SampleCampaign_is_deterministic_and_scales()
    {
        using var files = new CommandTestFiles();
        SampleCampaign.Write(files.Path("a"), 20_000, "smtp://127.0.0.1:2626", 7);
        SampleCampaign.Write(files.Path("b"), 20_000, "smtp://127.0.0.1:2626", 7);
        foreach (var name in new[] { "campaign.yml", "body.html", "recipients.csv" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(files.Path("a"), name)), File.ReadAllBytes(Path.Combine(files.Path("b"), name)));
        }

        var campaign = CampaignLoader.Load(Path.Combine(files.Path("a"), "campaign.yml"));
        Assert.Equal(new Uri("smtp://127.0.0.1:2626"), campaign.Relays[0].Url);
        Assert.Equal(7, campaign.Relays[0].Connections);
        using var list = Herald.Recipients.RecipientList.Open(campaign.RecipientsPath);
        Assert.Equal(20_000, list.Read(TestContext.Current.CancellationToken).Count(r => r.Status == Herald.Recipients.RecipientStatus.Ok));
    }
}
