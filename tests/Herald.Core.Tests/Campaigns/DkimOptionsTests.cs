using System.Security.Cryptography;
using Herald.Campaigns;
using Herald.Dkim;

namespace Herald.Core.Tests.Campaigns;

public class DkimOptionsTests
{
    [Fact]
    public void Load_reads_the_dkim_section_with_its_defaults()
    {
        using var files = new TestFiles();
        files.Write("k.pem", "placeholder");
        var campaign = CampaignLoader.Load(files.Campaign(extra: "dkim: { domain: Shop.Example.com, selector: S2026, key: k.pem }"));
        var dkim = campaign.Dkim!;
        Assert.Equal("shop.example.com", dkim.Domain);
        Assert.Equal("s2026", dkim.Selector);
        Assert.Equal(Path.Combine(files.Root, "k.pem"), dkim.Key.FilePath);
        Assert.Equal(DkimAlgorithm.RsaSha256, dkim.Algorithm);
        Assert.Equal(DkimOptions.DefaultHeaders, dkim.Headers);
    }

    [Fact]
    public void A_From_in_a_subdomain_of_d_aligns_and_one_outside_it_is_refused_at_the_domain_key()
    {
        using var files = new TestFiles();
        files.Write("k.pem", "x");
        Assert.NotNull(CampaignLoader.Load(files.Campaign(extra: "dkim: { domain: example.com, selector: s, key: k.pem }")).Dkim);

        var path = files.Campaign(extra: "dkim:\n  selector: s\n  domain: mail.shop.example.com\n  key: k.pem");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var problem = Assert.Single(ex.Problems);
        Assert.Contains("does not align with the From domain 'shop.example.com'", problem.Message, StringComparison.Ordinal);
        Assert.Equal((12, 11), (problem.Line, problem.Column));
    }

    [Fact]
    public void Bad_dkim_settings_are_reported_each_at_its_place()
    {
        using var files = new TestFiles();
        files.Write("k.pem", "x");
        var cases = new (string Yaml, string Says)[]
        {
            ("dkim: { domain: shop.example.com, selector: s, key: missing.pem }", "file not found: missing.pem"),
            ("dkim: { domain: shop.example.com, selector: s, key: 'env:1BAD' }", "does not name an environment variable"),
            ("dkim: { domain: shop.example.com, selector: 'a b', key: k.pem }", "is not a selector"),
            ("dkim: { domain: shop.example.com, selector: s, key: k.pem, algorithm: rsa-sha1 }", "'rsa-sha1' is not one of rsa-sha256, ed25519-sha256, both"),
            ("dkim: { domain: shop.example.com, selector: s, key: k.pem, algorithm: both }", "missing key 'dkim.ed25519_selector'"),
            ("dkim: { domain: shop.example.com, selector: s, key: k.pem, ed25519_key: k.pem }", "only used with algorithm: both"),
            ("dkim: { domain: shop.example.com, selector: s, key: k.pem, selectr: x }", "did you mean 'selector'?"),
            ("dkim: { domain: shop.example.com, selector: s, key: k.pem, headers: [To, Subject] }", "must include From"),
            ("dkim: { domain: shop.example.com, selector: s }", "missing key 'dkim.key'"),
            ("headers: { List-Id: x }", "List-Id is set by Herald"),
        };
        foreach (var (yaml, says) in cases)
        {
            var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(files.Campaign(extra: yaml)));
            Assert.True(ex.Problems.Any(p => p.Message.Contains(says, StringComparison.Ordinal) && p.Line == 10), $"{yaml}: {ex.Message}");
        }
    }

    [Fact]
    public void An_inline_key_is_refused_without_being_echoed()
    {
        using var files = new TestFiles();
        using var rsa = RSA.Create(1024);
        var pem = rsa.ExportPkcs8PrivateKeyPem();
        var yaml = "dkim:\n  domain: shop.example.com\n  selector: s\n  key: |\n" + string.Concat(pem.Split('\n').Select(l => "    " + l + "\n"));
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(files.Campaign(extra: yaml)));
        Assert.Contains("inline keys are not allowed", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(pem.Split('\n')[1], ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_load_once_from_a_file_or_the_environment_and_weak_or_wrong_ones_are_refused_at_the_key()
    {
        using var files = new TestFiles();
        using var rsa2048 = RSA.Create(2048);
        using var rsa1024 = RSA.Create(1024);
        using var rsa768 = RSA.Create(768);
        files.Write("strong.pem", rsa2048.ExportRSAPrivateKeyPem());
        files.Write("weak.pem", rsa1024.ExportPkcs8PrivateKeyPem());
        files.Write("short.pem", rsa768.ExportPkcs8PrivateKeyPem());
        files.Write("ed.pem", DkimKey.Generate(DkimAlgorithm.Ed25519Sha256).ExportPkcs8Pem());

        using (var signer = DkimSigner.Load(Load(files, "key: strong.pem")))
        {
            Assert.Equal(2048, signer.Keys[0].Key.Bits);
        }

        var warnings = new List<Problem>();
        DkimSigner.Load(Load(files, "key: weak.pem"), warnings).Dispose();
        var warning = Assert.Single(warnings);
        Assert.Contains("1024 bits; 2048 is recommended", warning.Message, StringComparison.Ordinal);
        Assert.Equal((13, 8), (warning.Line, warning.Column));

        AssertRefused(Load(files, "key: short.pem"), "768 bits; receivers ignore DKIM keys under 1024 bits");
        AssertRefused(Load(files, "key: ed.pem"), "is an Ed25519 key; this one must be RSA");
        AssertRefused(Load(files, "key: 'env:HERALD_TEST_NO_SUCH_KEY'"), "the environment variable HERALD_TEST_NO_SUCH_KEY is not set");

        var variable = "HERALD_TEST_DKIM_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, rsa2048.ExportPkcs8PrivateKeyPem());
        try
        {
            using var signer = DkimSigner.Load(Load(files, $"key: 'env:{variable}'"));
            Assert.Equal(rsa2048.ExportSubjectPublicKeyInfo(), signer.Keys[0].Key.PublicKey);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void List_Id_and_Feedback_ID_come_from_the_file_or_from_the_campaign_and_From_domain()
    {
        using var files = new TestFiles();
        var defaults = CampaignLoader.Load(files.Campaign());
        Assert.Equal("<test-campaign.shop.example.com>", defaults.ListId);
        Assert.Equal("test-campaign:promo:herald:shopexample", defaults.FeedbackId);

        var set = CampaignLoader.Load(files.Campaign(extra: "list_id: \"Shop news <news.shop.example.com>\"\nfeedback_id: { stream: newsletter, sender_id: shopnews }"));
        Assert.Equal("\"Shop news\" <news.shop.example.com>", set.ListId);
        Assert.Equal("test-campaign:newsletter:herald:shopnews", set.FeedbackId);

        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(files.Campaign(extra: "list_id: 'no dots'\nfeedback_id: { sender_id: 'a:b' }")));
        Assert.Contains(ex.Problems, p => p.Line == 10 && p.Message.Contains("is not a list identifier", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.Line == 11 && p.Message.Contains("feedback_id.sender_id", StringComparison.Ordinal));
    }

    private static Campaign Load(TestFiles files, string keyLine) =>
        CampaignLoader.Load(files.Campaign(extra: $"dkim:\n  domain: shop.example.com\n  selector: s1\n  {keyLine}"));

    private static void AssertRefused(Campaign campaign, string says)
    {
        var ex = Assert.Throws<CampaignException>(() => DkimSigner.Load(campaign));
        var problem = Assert.Single(ex.Problems);
        Assert.Contains(says, problem.Message, StringComparison.Ordinal);
        Assert.Equal(13, problem.Line);
        Assert.EndsWith("campaign.yml", problem.File, StringComparison.Ordinal);
    }
}
