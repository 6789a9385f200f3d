using System.Globalization;
using System.Text;
using Npgsql;

namespace Herald.Postgres;

/// <summary>
/// A PostgreSQL store address: <c>postgresql://user@host[:port][,host2[:port]…]/dbname[?sslmode=…&amp;target_session_attrs=…]</c>.
/// The password never travels in the address (it would end up in shell history, process lists and logs): it comes
/// from <c>PGPASSWORD</c>, or from a <c>.pgpass</c>-style file named by <c>PGPASSFILE</c>, as with libpq.
/// </summary>
public sealed record PostgresAddress(string Username, IReadOnlyList<(string Host, int Port)> Hosts, string Database, IReadOnlyDictionary<string, string> Options)
{
    public const int DefaultPort = 5432;
    public const string PasswordVariable = "PGPASSWORD";
    public const string PassFileVariable = "PGPASSFILE";

    // Query options of libpq's URI form that Herald passes on; anything else is refused rather than ignored.
    private static readonly Dictionary<string, string> KnownOptions = new(StringComparer.Ordinal)
    {
        ["sslmode"] = "SSL Mode",
        ["target_session_attrs"] = "Target Session Attributes",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
    };

    /// <summary>True when <paramref name="value"/> is written as a PostgreSQL address rather than a file path.</summary>
    public static bool IsPostgresAddress(string? value) =>
        value is not null
        && (value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses an address; a mistake is a <see cref="StoreException"/> whose message never repeats a password.</summary>
    public static PostgresAddress Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!IsPostgresAddress(address))
        {
            throw new StoreException("a PostgreSQL store address starts with postgresql:// (for example postgresql://herald@db.example.com:5432/herald).");
        }

        var rest = address[(address.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var at = rest.LastIndexOf('@');
        var slash = rest.IndexOf('/', at < 0 ? 0 : at);
        if (at < 0)
        {
            throw new StoreException("the store address names no user: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        var userInfo = rest[..at];
        if (userInfo.Contains(':', StringComparison.Ordinal))
        {
            // Say where the password goes, never what it was.
            throw new StoreException($"the store address must not contain a password; set {PasswordVariable}, or name a .pgpass file in {PassFileVariable}.");
        }

        var username = Uri.UnescapeDataString(userInfo);
        if (username.Length == 0)
        {
            throw new StoreException("the store address names no user: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        if (slash < 0)
        {
            throw new StoreException("the store address names no database: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        var hostPart = rest[(at + 1)..slash];
        var pathAndQuery = rest[(slash + 1)..];
        var question = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var database = Uri.UnescapeDataString(question < 0 ? pathAndQuery : pathAndQuery[..question]);
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new StoreException("the store address names no database: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        var hosts = new List<(string, int)>();
        foreach (var entry in hostPart.Split(','))
        {
            hosts.Add(ParseHost(entry));
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        if (question >= 0)
        {
            foreach (var pair in pathAndQuery[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
                if (key.Equals("password", StringComparison.OrdinalIgnoreCase) || key.Equals("passfile", StringComparison.OrdinalIgnoreCase))
                {
                    throw new StoreException($"the store address must not contain a password; set {PasswordVariable}, or name a .pgpass file in {PassFileVariable}.");
                }

                if (!KnownOptions.ContainsKey(key))
                {
                    throw new StoreException($"the store address has an unknown option '{key}' (known: {string.Join(", ", KnownOptions.Keys)}).");
                }

                options[key] = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            }
        }

        return new PostgresAddress(username, hosts, database, options);
    }

    private static (string Host, int Port) ParseHost(string entry)
    {
        if (entry.Length == 0)
        {
            throw new StoreException("the store address names no host: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        string host;
        string? port = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new StoreException($"the store address has an unclosed IPv6 host '{entry}'.");
            }

            host = entry[1..close];
            if (close + 1 < entry.Length)
            {
                port = entry[(close + 1)..].TrimStart(':');
            }
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            host = colon < 0 ? entry : entry[..colon];
            port = colon < 0 ? null : entry[(colon + 1)..];
        }

        if (host.Length == 0)
        {
            throw new StoreException("the store address names no host: write postgresql://USER@HOST:PORT/DATABASE.");
        }

        var number = DefaultPort;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535))
        {
            throw new StoreException($"the store address has an invalid port '{port}' for host {host}.");
        }

        return (Uri.UnescapeDataString(host), number);
    }

    /// <summary>
    /// The password for this address: <c>PGPASSWORD</c>, else the first matching line of the file named by
    /// <c>PGPASSFILE</c> (<c>hostname:port:database:username:password</c>, <c>*</c> matches anything), else null.
    /// </summary>
    public string? ResolvePassword(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(PasswordVariable) is { Length: > 0 } password)
        {
            return password;
        }

        if (environment(PassFileVariable) is not { Length: > 0 } file)
        {
            return null;
        }

        if (!File.Exists(file))
        {
            throw new StoreException($"{PassFileVariable} names {file}, which does not exist.");
        }

        foreach (var line in File.ReadLines(file))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = SplitPassLine(line);
            if (fields.Count != 5)
            {
                continue;
            }

            var (host, port) = Hosts[0];
            if (Matches(fields[0], host) && Matches(fields[1], port.ToString(CultureInfo.InvariantCulture))
                && Matches(fields[2], Database) && Matches(fields[3], Username))
            {
                return fields[4];
            }
        }

        return null;
    }

    private static bool Matches(string pattern, string value) => pattern == "*" || pattern == value;

    // .pgpass escapes ':' and '\' with a backslash.
    private static List<string> SplitPassLine(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length)
            {
                current.Append(line[++i]);
            }
            else if (c == ':' && fields.Count < 4)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }

    /// <summary>The Npgsql connection string (with the resolved password, so never print it; print <see cref="ToString"/>).</summary>
    public string ToConnectionString(string? password)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = string.Join(',', Hosts.Select(h => h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]:{h.Port}" : $"{h.Host}:{h.Port}")),
            Database = Database,
            Username = Username,
            ApplicationName = "herald",
            Pooling = true,
            // A failover or restart closes every pooled connection; keepalives find dead ones that nobody closed.
            KeepAlive = 15,
            Timeout = 15,
            CommandTimeout = 60,
            CancellationTimeout = 5000,
            // PostgreSQL's JIT compiles any query whose estimated cost passes jit_above_cost: the dashboard overview's
            // counts over a 1M-recipient campaign paid 348 ms of compilation for a ~250 ms scan (docs/PERFORMANCE.md,
            // round 6). A startup option, so it outlives the pool's DISCARD ALL.
            Options = "-c jit=off",
        };
        if (password is not null)
        {
            builder.Password = password;
        }

        foreach (var (key, value) in Options)
        {
            builder[KnownOptions[key]] = value;
        }

        return builder.ConnectionString;
    }

    /// <summary>The address as written, without any secret (it never has one).</summary>
    public override string ToString()
    {
        var hosts = string.Join(',', Hosts.Select(h => h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]:{h.Port}" : $"{h.Host}:{h.Port}"));
        var query = Options.Count == 0 ? string.Empty : "?" + string.Join('&', Options.Select(o => $"{o.Key}={Uri.EscapeDataString(o.Value)}"));
        return $"postgresql://{Uri.EscapeDataString(Username)}@{hosts}/{Uri.EscapeDataString(Database)}{query}";
    }
}
