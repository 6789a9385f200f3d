using System.Security.Cryptography;
using System.Text;

namespace Herald.Tracking;

public sealed partial class TokenSigner
{
    /// <summary>Environment variable holding the secret that signs (any string of at least 16 characters).</summary>
    public const string SecretVariable = "HERALD_SECRET";

    /// <summary>Environment variable naming the key file used when <see cref="SecretVariable"/> is unset.</summary>
    public const string SecretFileVariable = "HERALD_SECRET_FILE";

    /// <summary>
    /// Environment variable with previous secrets that still verify, separated by commas; an item <c>file:PATH</c>
    /// names a previous key file.
    /// </summary>
    public const string PreviousSecretsVariable = "HERALD_SECRET_PREVIOUS";

    /// <summary>Environment variable naming a keyring file of previous secrets: one item per line, as in <see cref="PreviousSecretsVariable"/>.</summary>
    public const string PreviousSecretsFileVariable = "HERALD_SECRET_PREVIOUS_FILE";

    private const string FilePrefix = "file:";

    /// <summary>
    /// The signer for this machine: the secret from <c>HERALD_SECRET</c>, or else the key file named by
    /// <c>HERALD_SECRET_FILE</c> (default <c>~/.config/herald/secret.key</c>), created with 32 random bytes when
    /// missing and <paramref name="createKeyFile"/>; plus the previous keys of <c>HERALD_SECRET_PREVIOUS</c> and
    /// <c>HERALD_SECRET_PREVIOUS_FILE</c>. Errors name the variable or file, never a secret.
    /// </summary>
    /// <param name="createKeyFile">False for commands that only verify (<c>serve</c>): a key they made up would match no mail sent.</param>
    public static TokenSigner FromEnvironment(bool createKeyFile = true)
    {
        var signing = SigningKeyFromEnvironment(createKeyFile)
            ?? throw new HeraldException(
                $"no tracking key: {SecretVariable} is not set and the key file {DefaultKeyFile()} does not exist. Set {SecretVariable} to the " +
                "secret 'herald send' signed with (or run this where send ran); a new key would match no link in the mail sent.");
        return new TokenSigner(signing, PreviousKeysFromEnvironment());
    }

    /// <summary>The signer of <see cref="FromEnvironment"/> when its key exists; null (and nothing created) when it does not.</summary>
    public static TokenSigner? TryFromEnvironment()
    {
        var signing = SigningKeyFromEnvironment(createKeyFile: false);
        return signing is null ? null : new TokenSigner(signing, PreviousKeysFromEnvironment());
    }

    /// <summary>The key file path used when no secret is in the environment.</summary>
    public static string DefaultKeyFile()
    {
        var configured = Environment.GetEnvironmentVariable(SecretFileVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return System.IO.Path.Combine(home, ".config", "herald", "secret.key");
    }

    private static TokenKey? SigningKeyFromEnvironment(bool createKeyFile)
    {
        var secret = Environment.GetEnvironmentVariable(SecretVariable);
        if (!string.IsNullOrEmpty(secret))
        {
            return FromSecret(secret, SecretVariable, SecretVariable);
        }

        var path = DefaultKeyFile();
        if (!createKeyFile && !File.Exists(path))
        {
            return null;
        }

        return new TokenKey(createKeyFile ? LoadOrCreateKeyFile(path) : LoadKeyFile(path), path);
    }

    private static List<TokenKey> PreviousKeysFromEnvironment()
    {
        var keys = new List<TokenKey>();
        var list = Environment.GetEnvironmentVariable(PreviousSecretsVariable);
        if (!string.IsNullOrWhiteSpace(list))
        {
            var items = list.Split(',', StringSplitOptions.TrimEntries);
            for (var i = 0; i < items.Length; i++)
            {
                if (items[i].Length > 0)
                {
                    keys.Add(PreviousKey(items[i], $"{PreviousSecretsVariable} item {i + 1}"));
                }
            }
        }

        var ring = Environment.GetEnvironmentVariable(PreviousSecretsFileVariable);
        if (!string.IsNullOrWhiteSpace(ring))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(ring);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new HeraldException($"{ring} ({PreviousSecretsFileVariable}): cannot read the keyring file: {ex.Message}", ex);
            }

            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length > 0 && line[0] != '#')
                {
                    keys.Add(PreviousKey(line, $"{ring}:{i + 1}"));
                }
            }
        }

        return keys;
    }

    private static TokenKey PreviousKey(string item, string where)
    {
        if (item.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            var path = item[FilePrefix.Length..].Trim();
            return new TokenKey(LoadKeyFile(path), path);
        }

        return FromSecret(item, where, where);
    }

    private static TokenKey FromSecret(string secret, string where, string source)
    {
        if (secret.Length < 16)
        {
            throw new HeraldException($"{where}: a secret must be at least 16 characters long.");
        }

        return new TokenKey(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), source);
    }

    private static byte[] LoadKeyFile(string path)
    {
        try
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length < 16)
            {
                throw new HeraldException($"{path}: the key file is shorter than 16 bytes.");
            }

            return existing;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HeraldException($"{path}: cannot read the key file: {ex.Message}", ex);
        }
    }

    internal static byte[] LoadOrCreateKeyFile(string path)
    {
        try
        {
            if (File.Exists(path))
            {
                var existing = File.ReadAllBytes(path);
                if (existing.Length < 16)
                {
                    throw new HeraldException($"{path}: the key file is shorter than 16 bytes; delete it to create a new one.");
                }

                return existing;
            }

            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            var key = RandomNumberGenerator.GetBytes(32);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using var stream = new FileStream(path, options);
                stream.Write(key);
                return key;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs so both sign alike.
                return File.ReadAllBytes(path);
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new HeraldException($"{path}: cannot read or create the key file: {ex.Message}", ex);
        }
    }
}
