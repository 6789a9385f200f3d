using Herald.Postgres;
using Npgsql;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresAddressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-pgpass-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Func<string, string?> Env(params (string Key, string Value)[] pairs) =>
        key => pairs.FirstOrDefault(p => p.Key == key).Value;

    [Fact]
    public void A_full_address_is_parsed()
    {
        var address = PostgresAddress.Parse("postgresql://herald@db.example.com:6432/mail?sslmode=require");

        Assert.Equal("herald", address.Username);
        Assert.Equal([("db.example.com", 6432)], address.Hosts);
        Assert.Equal("mail", address.Database);
        Assert.Equal("require", address.Options["sslmode"]);
        Assert.Equal("postgresql://herald@db.example.com:6432/mail?sslmode=require", address.ToString());
    }

    [Fact]
    public void The_port_defaults_and_several_hosts_name_a_failover_pair()
    {
        var address = PostgresAddress.Parse("postgres://app@pg-a,pg-b:5433/herald?target_session_attrs=primary");

        Assert.Equal([("pg-a", 5432), ("pg-b", 5433)], address.Hosts);
        var builder = new NpgsqlConnectionStringBuilder(address.ToConnectionString(null));
        Assert.Equal("pg-a:5432,pg-b:5433", builder.Host);
        Assert.Equal("primary", builder.TargetSessionAttributes);
        Assert.Equal(("app", "herald"), (builder.Username, builder.Database));
    }

    [Fact]
    public void An_ipv6_host_in_brackets_is_parsed()
    {
        Assert.Equal([("::1", 5444)], PostgresAddress.Parse("postgresql://u@[::1]:5444/d").Hosts);
    }

    [Theory]
    [InlineData("postgresql://herald:hunter2secret@db:5432/mail")]
    [InlineData("postgresql://herald:@db:5432/mail")]
    [InlineData("postgresql://herald@db:5432/mail?password=hunter2secret")]
    public void A_password_in_the_address_is_refused_without_repeating_it(string text)
    {
        var error = Assert.Throws<StoreException>(() => PostgresAddress.Parse(text));

        Assert.Contains("must not contain a password", error.Message, StringComparison.Ordinal);
        Assert.Contains("PGPASSWORD", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2secret", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
    }

    [Theory]
    [InlineData("postgresql://db:5432/mail", "no user")]
    [InlineData("postgresql://u@db:5432", "no database")]
    [InlineData("postgresql://u@db:5432/", "no database")]
    [InlineData("postgresql://u@:5432/d", "no host")]
    [InlineData("postgresql://u@db:99999/d", "invalid port")]
    [InlineData("postgresql://u@db:abc/d", "invalid port")]
    [InlineData("postgresql://u@db/d?colour=blue", "unknown option 'colour'")]
    [InlineData("/var/lib/herald.db", "starts with postgresql://")]
    public void A_malformed_address_says_what_is_wrong(string text, string expected)
    {
        var error = Assert.Throws<StoreException>(() => PostgresAddress.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgresql://u@h/d", true)]
    [InlineData("POSTGRES://u@h/d", true)]
    [InlineData("herald.db", false)]
    [InlineData("./postgresql/herald.db", false)]
    public void Only_a_postgresql_scheme_selects_postgresql(string text, bool expected) =>
        Assert.Equal(expected, PostgresAddress.IsPostgresAddress(text));

    [Fact]
    public void The_password_comes_from_PGPASSWORD_first()
    {
        var address = PostgresAddress.Parse("postgresql://herald@db:5432/mail");

        Assert.Equal("from-env", address.ResolvePassword(Env(("PGPASSWORD", "from-env"), ("PGPASSFILE", "/nonexistent"))));
        Assert.Null(address.ResolvePassword(Env()));
        var builder = new NpgsqlConnectionStringBuilder(address.ToConnectionString("from-env"));
        Assert.Equal("from-env", builder.Password);
        Assert.DoesNotContain("from-env", address.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_password_comes_from_the_first_matching_line_of_the_pgpass_file()
    {
        var file = Path.Combine(_dir, "pgpass");
        File.WriteAllLines(file,
        [
            "# comment",
            "other:5432:mail:herald:wrong-host",
            "db:5432:mail:someone:wrong-user",
            @"db:5432:*:herald:p\:ss\\word",
            "*:*:*:*:too-late",
        ]);
        var address = PostgresAddress.Parse("postgresql://herald@db:5432/mail");

        Assert.Equal(@"p:ss\word", address.ResolvePassword(Env(("PGPASSFILE", file))));
        Assert.Equal("too-late", PostgresAddress.Parse("postgresql://x@y:1/z").ResolvePassword(Env(("PGPASSFILE", file))));
    }

    [Fact]
    public void A_missing_pgpass_file_is_an_error_naming_it()
    {
        var error = Assert.Throws<StoreException>(() =>
            PostgresAddress.Parse("postgresql://herald@db/mail").ResolvePassword(Env(("PGPASSFILE", Path.Combine(_dir, "none")))));

        Assert.Contains("PGPASSFILE", error.Message, StringComparison.Ordinal);
    }
}
