using System.Security.Cryptography;
using Herald.Campaigns;
using Herald.Dkim;

namespace Herald.Core.Tests.Dkim;

public class DkimKeyTests
{
    // RFC 8410 §10.3: an Ed25519 private key in PKCS#8; its public key is the one of §10.1.
    private const string Rfc8410Private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    private const string Rfc8410PublicRaw = "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";

    [Fact]
    public void Ed25519_PKCS8_from_RFC_8410_loads_with_its_public_key()
    {
        using var key = DkimKey.FromPem(Rfc8410Private);
        Assert.Equal(DkimAlgorithm.Ed25519Sha256, key.Algorithm);
        Assert.Equal(Rfc8410PublicRaw, Convert.ToBase64String(key.PublicKey));
        Assert.Equal($"v=DKIM1; k=ed25519; p={Rfc8410PublicRaw}", key.DnsRecordText);
        using var again = DkimKey.FromPem(key.ExportPkcs8Pem());
        Assert.Equal(key.PublicKey, again.PublicKey);
    }

    [Fact]
    public void RSA_loads_from_PKCS8_and_PKCS1_with_its_size_and_SubjectPublicKeyInfo()
    {
        using var rsa = RSA.Create(2048);
        using var pkcs8 = DkimKey.FromPem(rsa.ExportPkcs8PrivateKeyPem());
        using var pkcs1 = DkimKey.FromPem("leading text\n" + rsa.ExportRSAPrivateKeyPem());
        Assert.Equal(2048, pkcs8.Bits);
        Assert.Equal(rsa.ExportSubjectPublicKeyInfo(), pkcs8.PublicKey);
        Assert.Equal(pkcs8.PublicKey, pkcs1.PublicKey);
        Assert.StartsWith("v=DKIM1; k=rsa; p=MIIB", pkcs1.DnsRecordText, StringComparison.Ordinal);
    }

    [Fact]
    public void Public_encrypted_and_foreign_keys_are_refused_without_echoing_them()
    {
        using var rsa = RSA.Create(1024);
        var encrypted = rsa.ExportEncryptedPkcs8PrivateKeyPem("pw", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000));
        var publicPem = rsa.ExportSubjectPublicKeyInfoPem();
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var cases = new (string Pem, string Says)[]
        {
            (encrypted, "encrypted"),
            (publicPem, "public key"),
            (ec.ExportPkcs8PrivateKeyPem(), "neither RSA nor Ed25519"),
            ("not a key at all", "no PEM private key"),
        };
        foreach (var (pem, says) in cases)
        {
            var ex = Assert.Throws<DkimKeyException>(() => DkimKey.FromPem(pem));
            Assert.Contains(says, ex.Message, StringComparison.Ordinal);
            var body = pem.Split('\n').FirstOrDefault(l => l.Length > 20 && !l.StartsWith("-----", StringComparison.Ordinal));
            if (body is not null)
            {
                Assert.DoesNotContain(body, ex.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Generated_keys_round_trip_through_PEM()
    {
        using var rsa = DkimKey.Generate(DkimAlgorithm.RsaSha256, 1024);
        using var rsaAgain = DkimKey.FromPem(rsa.ExportPkcs8Pem());
        Assert.Equal(rsa.PublicKey, rsaAgain.PublicKey);
        using var ed = DkimKey.Generate(DkimAlgorithm.Ed25519Sha256);
        using var edAgain = DkimKey.FromPem(ed.ExportPkcs8Pem());
        Assert.Equal(ed.PublicKey, edAgain.PublicKey);
        Assert.Equal(32, ed.PublicKey.Length);
    }

    [Fact]
    public void DNS_record_text_is_split_in_strings_of_at_most_255_bytes()
    {
        using var key = DkimKey.Generate(DkimAlgorithm.RsaSha256, 4096);
        var line = DkimDnsRecord.ZoneLine("s1", "shop.example.com", key.DnsRecordText);
        Assert.StartsWith("s1._domainkey.shop.example.com IN TXT \"v=DKIM1; k=rsa; p=", line, StringComparison.Ordinal);
        var strings = DkimDnsRecord.Split(key.DnsRecordText).ToList();
        Assert.True(strings.Count >= 3);
        Assert.All(strings, s => Assert.InRange(s.Length, 1, 255));
        Assert.Equal(key.DnsRecordText, string.Concat(strings));
    }
}
