using System.Buffers.Binary;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Herald.Tracking;

/// <summary>
/// Who may see the dashboard: the configured token, typed into the login form or sent as a bearer token. A login sets
/// a session cookie that expires: its value is the expiry time and a MAC of it under the token, so it reveals nothing,
/// cannot be extended by the client, and every session ends when the token changes.
/// </summary>
internal static class DashboardAuth
{
    public const string CookieName = "herald_session";
    private const int MacLength = 16;
    private static readonly byte[] SessionLabel = "herald-dashboard-session-v2"u8.ToArray();

    public static bool IsAuthorized(HttpContext context, TrackingServerOptions options)
    {
        var expected = options.DashboardToken;
        if (expected is null)
        {
            return false;
        }

        // A bearer token decides alone (a wrong one is a failed login: DashboardEndpoints.ThrottleBearer counts it).
        if (BearerToken(context) is { } bearer)
        {
            return TokenMatches(bearer, expected);
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var cookie) && cookie is not null
            && SessionIsValid(cookie, expected, options.Time.GetUtcNow());
    }

    /// <summary>The token of an <c>Authorization: Bearer</c> header; null without one.</summary>
    public static string? BearerToken(HttpContext context)
    {
        string? authorization = context.Request.Headers.Authorization;
        return authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
    }

    /// <summary>Equal-time comparison of the given token with the configured one (hashed first, so lengths leak nothing).</summary>
    public static bool TokenMatches(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    public static string CreateSession(string token, DateTimeOffset expires)
    {
        Span<byte> value = stackalloc byte[8 + MacLength];
        BinaryPrimitives.WriteInt64BigEndian(value, expires.ToUnixTimeSeconds());
        Mac(token, value[..8], value[8..]);
        return Base64Url.EncodeToString(value);
    }

    public static bool SessionIsValid(string cookie, string token, DateTimeOffset now)
    {
        Span<byte> value = stackalloc byte[8 + MacLength + 2];
        if (cookie.Length > 64 || !Base64Url.TryDecodeFromChars(cookie, value, out var written) || written != 8 + MacLength)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[MacLength];
        Mac(token, value[..8], mac);
        return CryptographicOperations.FixedTimeEquals(mac, value.Slice(8, MacLength))
            && DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(value)) > now;
    }

    private static void Mac(string token, ReadOnlySpan<byte> expiry, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(token));
        hmac.AppendData(SessionLabel);
        hmac.AppendData(expiry);
        Span<byte> full = stackalloc byte[32];
        hmac.GetHashAndReset(full);
        full[..MacLength].CopyTo(destination);
    }
}

/// <summary>
/// Failed dashboard logins per client address (the login form, wrong bearer tokens on the API and on a private
/// <c>/metrics</c>): past the allowed failures within the window, further attempts are
/// refused (429) until the oldest failure ages out, so the token cannot be guessed at network speed. Memory is bounded:
/// when too many clients are tracked the stalest entries are dropped.
/// </summary>
internal sealed class LoginThrottle(TrackingServerOptions options)
{
    private const int MaxClients = 10_000;
    private readonly ConcurrentDictionary<IPAddress, Queue<DateTimeOffset>> _failures = new();

    /// <summary>When the client may try again; null when it may try now.</summary>
    public TimeSpan? RetryAfter(IPAddress? client)
    {
        if (client is null || !_failures.TryGetValue(client, out var failures))
        {
            return null;
        }

        var now = options.Time.GetUtcNow();
        lock (failures)
        {
            Expire(failures, now);
            return failures.Count >= options.LoginFailuresAllowed ? failures.Peek() + options.LoginFailureWindow - now : null;
        }
    }

    public void Failed(IPAddress? client)
    {
        if (client is null)
        {
            return;
        }

        if (_failures.Count >= MaxClients)
        {
            Trim();
        }

        var failures = _failures.GetOrAdd(client, static _ => new Queue<DateTimeOffset>());
        var now = options.Time.GetUtcNow();
        lock (failures)
        {
            Expire(failures, now);
            failures.Enqueue(now);
        }
    }

    public void Succeeded(IPAddress? client)
    {
        if (client is not null)
        {
            _failures.TryRemove(client, out _);
        }
    }

    private void Expire(Queue<DateTimeOffset> failures, DateTimeOffset now)
    {
        while (failures.Count > 0 && now - failures.Peek() >= options.LoginFailureWindow)
        {
            failures.Dequeue();
        }
    }

    private void Trim()
    {
        var now = options.Time.GetUtcNow();
        foreach (var (client, failures) in _failures)
        {
            bool empty;
            lock (failures)
            {
                Expire(failures, now);
                empty = failures.Count == 0;
            }

            if (empty)
            {
                _failures.TryRemove(client, out _);
            }
        }

        // Still full of live entries: forget the oldest half rather than grow without bound.
        if (_failures.Count >= MaxClients)
        {
            foreach (var client in _failures.Keys.Take(MaxClients / 2))
            {
                _failures.TryRemove(client, out _);
            }
        }
    }
}
