namespace Herald.Cli.Tests.Commands;

public sealed class SuppressCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-suppress-").FullName;

    private string Db => Path.Combine(_dir, "herald.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Add_list_and_remove_use_normalized_addresses()
    {
        var add = await HeraldProcess.RunAsync("suppress", "add", "Ann@Shop.EXAMPLE.com", "bob@shop.example.com", "--reason", "complained", "--db", Db);
        Assert.Equal(0, add.Exit);
        Assert.Contains("2 address(es) added", add.Out, StringComparison.Ordinal);

        var list = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        var lines = list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("email,reason,campaign,at", lines[0]);
        Assert.StartsWith("Ann@shop.example.com,complained,,", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("bob@shop.example.com,complained,,", lines[2], StringComparison.Ordinal);

        var remove = await HeraldProcess.RunAsync("suppress", "remove", "ann@shop.example.com", "Ann@shop.example.com", "--db", Db);
        Assert.Equal(1, remove.Exit);
        Assert.Contains("ann@shop.example.com: not suppressed", remove.Error, StringComparison.Ordinal);
        var after = await HeraldProcess.RunAsync("suppress", "list", "--json", "--db", Db);
        Assert.DoesNotContain("Ann@", after.Out, StringComparison.Ordinal);
        Assert.Contains("\"email\":\"bob@shop.example.com\"", after.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_address_argument_is_a_clean_error()
    {
        var result = await HeraldProcess.RunAsync("suppress", "add", "not-an-address", "--db", Db);

        Assert.Equal(1, result.Exit);
        Assert.StartsWith("error: argument 'not-an-address': invalid address", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_of_a_csv_keeps_reasons_and_refuses_a_file_with_invalid_rows()
    {
        var file = Path.Combine(_dir, "bounces.csv");
        await File.WriteAllTextAsync(file, "email,reason,campaign\nann@shop.example.com,bounced,spring\nnope,bounced,\nbob@shop.example.com,,\n", TestContext.Current.CancellationToken);

        var refused = await HeraldProcess.RunAsync("suppress", "import", file, "--db", Db);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("bounces.csv:2: invalid address", refused.Error, StringComparison.Ordinal);
        var empty = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        Assert.Equal(1, empty.Exit);
        Assert.Contains("no store found", empty.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Db), "a refused import and a list must not create the store");

        var imported = await HeraldProcess.RunAsync("suppress", "import", file, "--skip-invalid", "--db", Db);
        Assert.Equal(0, imported.Exit);
        var list = (await HeraldProcess.RunAsync("suppress", "list", "--db", Db)).Out;
        Assert.Contains("ann@shop.example.com,bounced,spring,", list, StringComparison.Ordinal);
        Assert.Contains("bob@shop.example.com,manual,,", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_of_a_plain_list_reads_one_address_per_line()
    {
        var file = Path.Combine(_dir, "list.txt");
        await File.WriteAllTextAsync(file, "# exported from the old ESP\nann@shop.example.com\n\ncarl@Shop.example.com\n", TestContext.Current.CancellationToken);

        var result = await HeraldProcess.RunAsync("suppress", "import", file, "--reason", "unsubscribed", "--db", Db);

        Assert.Equal(0, result.Exit);
        Assert.Contains("2 address(es) added", result.Out, StringComparison.Ordinal);
        Assert.Contains("carl@shop.example.com,unsubscribed", (await HeraldProcess.RunAsync("suppress", "list", "--db", Db)).Out, StringComparison.Ordinal);
    }
}
