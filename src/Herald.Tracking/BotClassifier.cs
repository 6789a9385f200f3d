using System.Net;
using Herald.Store;

namespace Herald.Tracking;

/// <summary>Flags what can be told from one request: HEAD, scanner agents, Apple Mail Privacy Protection opens.</summary>
internal static class BotClassifier
{
    // Security gateways that pre-fetch links, crawlers, and HTTP libraries no person clicks with.
    private static readonly string[] ScannerAgents =
    [
        "bot", "crawler", "spider", "scanner", "barracuda", "proofpoint", "mimecast", "symantec", "messagelabs",
        "forcepoint", "trendmicro", "sophos", "fortinet", "fortiguard", "ironport", "safelinks", "appriver",
        "headlesschrome", "phantomjs", "curl/", "wget/", "python-requests", "python-urllib", "aiohttp", "go-http-client",
        "java/", "okhttp", "libwww-perl", "httpclient", "axios/", "node-fetch", "undici", "postmanruntime",
    ];

    public static EventFlags Classify(TrackingEventKind kind, string method, string? userAgent, IPAddress? address)
    {
        var flags = EventFlags.None;
        if (HttpMethodIsHead(method))
        {
            flags |= EventFlags.Head;
        }

        if (string.IsNullOrWhiteSpace(userAgent) || IsScanner(userAgent))
        {
            flags |= EventFlags.Scanner;
        }

        // Apple's proxy announces itself only as "Mozilla/5.0" and fetches from 17.0.0.0/8.
        if (kind == TrackingEventKind.Open && (ClientNetwork.IsApple(address) || string.Equals(userAgent, "Mozilla/5.0", StringComparison.Ordinal)))
        {
            flags |= EventFlags.AppleMpp;
            flags &= ~EventFlags.Scanner;
        }

        return flags;
    }

    public static bool IsScanner(string userAgent)
    {
        foreach (var token in ScannerAgents)
        {
            if (userAgent.Contains(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HttpMethodIsHead(string method) => string.Equals(method, "HEAD", StringComparison.OrdinalIgnoreCase);
}
