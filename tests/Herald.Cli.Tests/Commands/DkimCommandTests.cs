using Herald.Campaigns;

namespace Herald.Cli.Tests.Commands;

public class DkimCommandTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Keygen_writes_a_0600_key_prints_the_record_and_refuses_to_overwrite_without_force()
    {
        using var files = new CommandTestFiles();
        var key = files.Path("s1.pem");
        var first = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--out", key);
        Assert.True(first.Exit == 0, first.Error);
        Assert.Contains("s1._domainkey.shop.example.com IN TXT \"v=DKIM1; k=rsa; p=MIIB", first.Out, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        // The snippet names the key by its full path: a campaign resolves key: against its own folder.
        Assert.Contains($"key: {Path.GetFullPath(key)}, algorithm: rsa-sha256", first.Out, StringComparison.Ordinal);

        var pem = File.ReadAllText(key);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem, StringComparison.Ordinal);
        Assert.DoesNotContain(pem.Split('\n')[1], first.Out, StringComparison.Ordinal);

        var again = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--out", key);
        Assert.Equal(1, again.Exit);
        Assert.Contains("exists", again.Error, StringComparison.Ordinal);
        Assert.Equal(pem, File.ReadAllText(key));

        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var forced = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--algorithm", "ed25519-sha256", "--out", key, "--force");
        Assert.True(forced.Exit == 0, forced.Error);
        Assert.Contains("k=ed25519; p=", forced.Out, StringComparison.Ordinal);
        Assert.NotEqual(pem, File.ReadAllText(key));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    [Fact]
    public async Task Keygen_refuses_bad_arguments_with_one_line()
    {
        using var files = new CommandTestFiles();
        var bits = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--bits", "512", "--out", files.Path("k.pem"));
        Assert.Equal(1, bits.Exit);
        Assert.Contains("--bits: 512", bits.Error, StringComparison.Ordinal);
        var algorithm = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--algorithm", "both", "--out", files.Path("k.pem"));
        Assert.Equal(1, algorithm.Exit);
        Assert.Contains("--algorithm: 'both'", algorithm.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(files.Path("k.pem")));
    }

    [Fact]
    public async Task Validate_names_the_signing_keys_warns_about_a_1024_bit_key_and_refuses_a_misaligned_domain()
    {
        using var files = new CommandTestFiles();
        var folder = files.Path("c");
        var path = SampleCampaign.Write(folder, 3);
        var keygen = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", "s1", "--bits", "1024", "--out", Path.Combine(folder, "k.pem"));
        Assert.True(keygen.Exit == 0, keygen.Error);
        var text = File.ReadAllText(path);

        File.WriteAllText(path, text + "\ndkim: { domain: shop.example.com, selector: s1, key: k.pem }\n");
        var ok = await HeraldProcess.RunAsync("validate", path);
        Assert.True(ok.Exit == 0, ok.Error);
        Assert.Contains("warning: ", ok.Out, StringComparison.Ordinal);
        Assert.Contains("1024 bits; 2048 is recommended", ok.Out, StringComparison.Ordinal);
        Assert.Contains("dkim: signing as d=shop.example.com (s=s1 rsa-sha256 1024 bits)", ok.Out, StringComparison.Ordinal);

        File.WriteAllText(path, text + "\ndkim: { domain: other.example.net, selector: s1, key: k.pem }\n");
        var misaligned = await HeraldProcess.RunAsync("validate", path);
        Assert.Equal(1, misaligned.Exit);
        Assert.Matches(@"campaign\.yml:\d+:\d+: dkim\.domain: 'other\.example\.net' does not align with the From domain", misaligned.Error);

        File.WriteAllText(Path.Combine(folder, "k.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        File.WriteAllText(path, text + "\ndkim: { domain: shop.example.com, selector: s1, key: k.pem }\n");
        var broken = await HeraldProcess.RunAsync("validate", path);
        Assert.Equal(1, broken.Exit);
        Assert.Matches(@"campaign\.yml:\d+:\d+: dkim\.key: k\.pem: ", broken.Error);
        Assert.DoesNotContain("Exception", broken.Error, StringComparison.Ordinal);
    }
}
