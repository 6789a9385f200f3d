using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using Herald.Campaigns;
using Ed25519Math = Org.BouncyCastle.Math.EC.Rfc8032.Ed25519;

namespace Herald.Dkim;

/// <summary>Why a DKIM private key cannot be used; the message never contains key material.</summary>
public sealed class DkimKeyException(string message) : HeraldException(message);

/// <summary>
/// A DKIM private key, loaded once: RSA (PEM PKCS#8 or PKCS#1) or Ed25519 (PEM PKCS#8, RFC 8410). Signing is
/// thread-safe: each thread gets its own RSA instance of the same key.
/// </summary>
public sealed class DkimKey : IDisposable
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    /// <summary>Bytes of the longest signature: RSA-8192, the largest key accepted.</summary>
    internal const int MaxSignatureLength = 1024;

    private readonly byte[]? _rsaPkcs8;
    private readonly ThreadLocal<RSA>? _rsa;
    private readonly byte[]? _edSeed;
    private readonly byte[]? _edPublic;

    private DkimKey(byte[] rsaPkcs8, int bits, byte[] publicKey)
    {
        Algorithm = DkimAlgorithm.RsaSha256;
        Bits = bits;
        _rsaPkcs8 = rsaPkcs8;
        PublicKey = publicKey;
        _rsa = new ThreadLocal<RSA>(CreateRsa, trackAllValues: true);
    }

    private DkimKey(byte[] seed)
    {
        Algorithm = DkimAlgorithm.Ed25519Sha256;
        Bits = 256;
        _edSeed = seed;
        _edPublic = new byte[Ed25519Math.PublicKeySize];
        Ed25519Math.GeneratePublicKey(seed, 0, _edPublic, 0);
        PublicKey = _edPublic;
    }

    /// <summary><see cref="DkimAlgorithm.RsaSha256"/> or <see cref="DkimAlgorithm.Ed25519Sha256"/>.</summary>
    public DkimAlgorithm Algorithm { get; }

    /// <summary>RSA modulus size; 256 for Ed25519.</summary>
    public int Bits { get; }

    /// <summary>What the DNS record's <c>p=</c> carries: SubjectPublicKeyInfo DER (RSA) or the raw 32 bytes (Ed25519, RFC 8463).</summary>
    public byte[] PublicKey { get; }

    /// <summary>Bytes of one signature.</summary>
    public int SignatureLength => Algorithm == DkimAlgorithm.RsaSha256 ? Bits / 8 : Ed25519Math.SignatureSize;

    /// <summary>The <c>a=</c> tag value.</summary>
    public string AlgorithmTag => Algorithm == DkimAlgorithm.RsaSha256 ? "rsa-sha256" : "ed25519-sha256";

    /// <summary>The DNS TXT record's text, <c>v=DKIM1; k=rsa; p=…</c>.</summary>
    public string DnsRecordText => $"v=DKIM1; k={(Algorithm == DkimAlgorithm.RsaSha256 ? "rsa" : "ed25519")}; p={Convert.ToBase64String(PublicKey)}";

    /// <summary>Loads a key from a campaign's key source (a PEM file or an environment variable holding PEM text).</summary>
    public static DkimKey Load(DkimKeySource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        string pem;
        if (source.EnvironmentVariable is { } variable)
        {
            pem = Environment.GetEnvironmentVariable(variable)
                ?? throw new DkimKeyException($"the environment variable {variable} is not set");
        }
        else
        {
            try
            {
                pem = File.ReadAllText(source.FilePath!, Encoding.ASCII);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new DkimKeyException($"cannot read {source.Label}: {ex.Message}");
            }
        }

        return FromPem(pem);
    }

    /// <summary>Reads the first private key of PEM text; a public, encrypted or other kind of key is refused.</summary>
    public static DkimKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label].ToString();
            var der = new byte[fields.DecodedDataLength];
            if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out _))
            {
                throw new DkimKeyException("the PEM data is not valid base64");
            }

            switch (label)
            {
                case "PRIVATE KEY":
                    return FromPkcs8(der);
                case "RSA PRIVATE KEY":
                    return FromPkcs1(der);
                case "ENCRYPTED PRIVATE KEY":
                    throw new DkimKeyException("the key is encrypted; give an unencrypted PEM key (openssl pkey -in KEY -out PLAIN.pem), kept with mode 0600");
                case "PUBLIC KEY" or "RSA PUBLIC KEY":
                    throw new DkimKeyException("this is a public key; give the private key (the public one goes in DNS)");
                case "OPENSSH PRIVATE KEY" or "EC PRIVATE KEY" or "DSA PRIVATE KEY":
                    throw new DkimKeyException($"a {label} is not a DKIM key; use an RSA or Ed25519 key in PEM (herald dkim keygen makes one)");
            }

            rest = rest[fields.Location.End..];
        }

        throw new DkimKeyException(pem.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal)
            ? "the key is encrypted; give an unencrypted PEM key (openssl pkey -in KEY -out PLAIN.pem)"
            : "no PEM private key found (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)");
    }

    /// <summary>A new key: RSA of <paramref name="bits"/>, or Ed25519.</summary>
    public static DkimKey Generate(DkimAlgorithm algorithm, int bits = 2048)
    {
        switch (algorithm)
        {
            case DkimAlgorithm.RsaSha256:
                using (var rsa = RSA.Create(bits))
                {
                    return FromPkcs8(rsa.ExportPkcs8PrivateKey());
                }

            case DkimAlgorithm.Ed25519Sha256:
                return new DkimKey(RandomNumberGenerator.GetBytes(Ed25519Math.SecretKeySize));
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "one key is one algorithm");
        }
    }

    /// <summary>The private key as PEM PKCS#8 (<c>-----BEGIN PRIVATE KEY-----</c>).</summary>
    public string ExportPkcs8Pem()
    {
        if (_rsaPkcs8 is not null)
        {
            return PemEncoding.WriteString("PRIVATE KEY", _rsaPkcs8);
        }

        // RFC 8410: PrivateKeyInfo { version 0, algorithm id-Ed25519, privateKey OCTET STRING { CurvePrivateKey } }.
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(0);
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Ed25519Oid);
            }

            var inner = new AsnWriter(AsnEncodingRules.DER);
            inner.WriteOctetString(_edSeed);
            writer.WriteOctetString(inner.Encode());
        }

        return PemEncoding.WriteString("PRIVATE KEY", writer.Encode());
    }

    /// <summary>Signs a SHA-256 digest: PKCS#1 v1.5 for RSA; for Ed25519 the digest is the message (RFC 8463 §3).</summary>
    internal int SignDigest(ReadOnlySpan<byte> sha256, Span<byte> signature)
    {
        if (_rsa is not null)
        {
            return _rsa.Value!.SignHash(sha256, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }

        var message = sha256.ToArray();
        var output = new byte[Ed25519Math.SignatureSize];
        Ed25519Math.Sign(_edSeed, 0, _edPublic, 0, message, 0, message.Length, output, 0);
        output.CopyTo(signature);
        return output.Length;
    }

    public void Dispose()
    {
        if (_rsa is not null)
        {
            foreach (var rsa in _rsa.Values)
            {
                rsa.Dispose();
            }

            _rsa.Dispose();
        }

        CryptographicOperations.ZeroMemory(_rsaPkcs8);
        CryptographicOperations.ZeroMemory(_edSeed);
    }

    private RSA CreateRsa()
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(_rsaPkcs8, out _);
        return rsa;
    }

    private static DkimKey FromPkcs8(byte[] der)
    {
        string oid;
        ReadOnlyMemory<byte> privateKey;
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.BER);
            var info = reader.ReadSequence();
            info.ReadInteger();
            var algorithm = info.ReadSequence();
            oid = algorithm.ReadObjectIdentifier();
            privateKey = info.ReadOctetString();
        }
        catch (AsnContentException)
        {
            throw new DkimKeyException("the PRIVATE KEY is not a valid PKCS#8 structure");
        }

        switch (oid)
        {
            case RsaOid:
                using (var rsa = RSA.Create())
                {
                    try
                    {
                        rsa.ImportPkcs8PrivateKey(der, out _);
                    }
                    catch (CryptographicException)
                    {
                        throw new DkimKeyException("the RSA private key does not load (corrupt PKCS#8 data)");
                    }

                    return FromRsa(rsa);
                }

            case Ed25519Oid:
                byte[] seed;
                try
                {
                    seed = new AsnReader(privateKey, AsnEncodingRules.BER).ReadOctetString();
                }
                catch (AsnContentException)
                {
                    throw new DkimKeyException("the Ed25519 private key is not a valid RFC 8410 structure");
                }

                if (seed.Length != Ed25519Math.SecretKeySize)
                {
                    throw new DkimKeyException($"the Ed25519 private key has {seed.Length} bytes, not 32");
                }

                return new DkimKey(seed);
            default:
                throw new DkimKeyException($"the PRIVATE KEY is of algorithm {oid}, neither RSA nor Ed25519");
        }
    }

    private static DkimKey FromPkcs1(byte[] der)
    {
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportRSAPrivateKey(der, out _);
        }
        catch (CryptographicException)
        {
            throw new DkimKeyException("the RSA PRIVATE KEY does not load (corrupt PKCS#1 data)");
        }

        return FromRsa(rsa);
    }

    private static DkimKey FromRsa(RSA rsa)
    {
        if (rsa.KeySize > MaxSignatureLength * 8)
        {
            throw new DkimKeyException($"the RSA key has {rsa.KeySize} bits; at most {MaxSignatureLength * 8} are accepted (DNS records and verifiers do not take more)");
        }

        return new(rsa.ExportPkcs8PrivateKey(), rsa.KeySize, rsa.ExportSubjectPublicKeyInfo());
    }
}
