using System.Globalization;
using System.Text;

namespace Herald.Delivery;

/// <summary>
/// The envelope address as it goes into MAIL FROM / RCPT TO: the domain always as its A-label (<c>xn--…</c>), which
/// every relay understands, and the local part as given. A non-ASCII local part can only travel with SMTPUTF8
/// (RFC 6531); there is no ASCII form of it.
/// </summary>
internal static class Envelope
{
    private static readonly IdnMapping Idn = new() { AllowUnassigned = false, UseStd3AsciiRules = true };

    /// <summary>The wire form of <paramref name="address"/>; false when the domain has no A-label.</summary>
    public static bool TryWireForm(string address, out string wire, out bool needsSmtpUtf8)
    {
        wire = address;
        var at = address.LastIndexOf('@');
        var local = at < 0 ? address : address[..at];
        needsSmtpUtf8 = !Ascii.IsValid(local);
        if (at < 0)
        {
            return true;
        }

        var domain = address[(at + 1)..];
        if (Ascii.IsValid(domain))
        {
            return true;
        }

        try
        {
            // The plan holds normalized addresses (A-labels already); this covers addresses from elsewhere (the From).
            wire = string.Concat(local, "@", Idn.GetAscii(domain));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
