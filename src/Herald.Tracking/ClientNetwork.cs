using System.Net;
using System.Net.Sockets;

namespace Herald.Tracking;

/// <summary>Keeps only the network of a client address (IPv4 /24, IPv6 /48): enough for geography and abuse, not a person.</summary>
internal static class ClientNetwork
{
    public static string? Truncate(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
        {
            return null;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return $"{bytes[0]}.{bytes[1]}.{bytes[2]}.0/24";
        }

        bytes[6..written].Clear();
        return $"{new IPAddress(bytes[..written])}/48";
    }

    /// <summary>Apple's Mail Privacy Protection proxies fetch from Apple's 17.0.0.0/8.</summary>
    public static bool IsApple(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        return address.AddressFamily == AddressFamily.InterNetwork && address.TryWriteBytes(bytes, out _) && bytes[0] == 17;
    }
}
