using System.CommandLine;
using Herald.Campaigns;
using Herald.Dkim;

namespace Herald.Cli.Commands;

/// <summary><c>herald dkim keygen</c>: makes a DKIM key pair, writes the private key (mode 0600), prints the DNS record.</summary>
internal static class DkimCommand
{
    public static Command Create()
    {
        var domain = new Option<string>("--domain") { Description = "The signing domain (d=), e.g. shop.example.com.", Required = true };
        var selector = new Option<string>("--selector") { Description = "The selector (s=), e.g. s2026.", Required = true };
        var algorithm = new Option<string>("--algorithm") { Description = "rsa-sha256 (default) or ed25519-sha256.", DefaultValueFactory = _ => "rsa-sha256" };
        var bits = new Option<int?>("--bits") { Description = "RSA key size (default 2048; 1024 to 4096)." };
        var outFile = new Option<string>("--out") { Description = "Where to write the private key (PEM, PKCS#8).", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing key file." };
        var keygen = new Command("keygen", "Make a DKIM key pair: write the private key (mode 0600) and print the DNS TXT record to publish.")
        {
            domain, selector, algorithm, bits, outFile, force,
        };
        keygen.SetAction((ParseResult result, CancellationToken cancellationToken) => CliRunner.Run(() => Keygen(
            result.GetValue(domain)!, result.GetValue(selector)!, result.GetValue(algorithm)!, result.GetValue(bits),
            result.GetValue(outFile)!, result.GetValue(force), Console.Out)));
        return new Command("dkim", "DKIM signing keys.") { keygen };
    }

    internal static int Keygen(string domain, string selector, string algorithmName, int? bits, string outFile, bool force, TextWriter output)
    {
        var algorithm = algorithmName switch
        {
            "rsa-sha256" => DkimAlgorithm.RsaSha256,
            "ed25519-sha256" => DkimAlgorithm.Ed25519Sha256,
            _ => throw new HeraldException($"--algorithm: '{algorithmName}' is not rsa-sha256 or ed25519-sha256 (for both, make one key of each, with two selectors)"),
        };
        if (algorithm == DkimAlgorithm.Ed25519Sha256 && bits is not null)
        {
            throw new HeraldException("--bits: Ed25519 keys have one size; --bits is for rsa-sha256");
        }

        var size = bits ?? 2048;
        if (size is < 1024 or > 4096 || size % 8 != 0)
        {
            throw new HeraldException($"--bits: {size} is not a key size from 1024 to 4096 (2048 is recommended)");
        }

        var (checkedDomain, checkedSelector) = CheckNames(domain, selector);
        var path = Path.GetFullPath(outFile);
        if (Directory.Exists(path))
        {
            throw new HeraldException($"--out: {outFile} is a folder; give the key file's name");
        }

        if (File.Exists(path) && !force)
        {
            throw new HeraldException($"--out: {outFile} exists; a DKIM key in use would be lost (give --force to replace it)");
        }

        using var key = DkimKey.Generate(algorithm, size);
        WritePrivate(path, key.ExportPkcs8Pem());
        output.WriteLine($"wrote {outFile} ({key.AlgorithmTag}{(algorithm == DkimAlgorithm.RsaSha256 ? $", {key.Bits} bits" : "")}, mode 0600)");
        output.WriteLine("publish this DNS TXT record:");
        output.WriteLine(DkimDnsRecord.ZoneLine(checkedSelector, checkedDomain, key.DnsRecordText));
        // The campaign resolves key: against its own folder, not the folder keygen ran in: the full path works wherever it is pasted.
        output.WriteLine("then in the campaign file:");
        output.WriteLine($"dkim: {{ domain: {checkedDomain}, selector: {checkedSelector}, key: {path}, algorithm: {key.AlgorithmTag} }}");
        return CliRunner.Ok;
    }

    private static (string Domain, string Selector) CheckNames(string domain, string selector)
    {
        var normalized = DkimOptions.TryNormalizeDomain(domain)
            ?? throw new HeraldException($"--domain: '{domain}' is not a domain name (for example shop.example.com)");
        if (!DkimOptions.IsSelector(selector))
        {
            throw new HeraldException($"--selector: '{selector}' is not a selector (letters, digits and '-', for example s2026)");
        }

        return (normalized, selector.ToLowerInvariant());
    }

    /// <summary>Written to a new 0600 file beside the target, then renamed over it: never readable by others, never half written.</summary>
    private static void WritePrivate(string path, string pem)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(pem);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new HeraldException($"--out: cannot write {DisplayPath.For(path)}: {ex.Message}");
        }
    }
}
