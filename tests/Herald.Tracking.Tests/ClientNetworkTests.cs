using System.Net;

namespace Herald.Tracking.Tests;

public sealed class ClientNetworkTests
{
    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0/24")]
    [InlineData("::ffff:198.51.100.9", "198.51.100.0/24")]
    [InlineData("2001:db8:abcd:12:3456:789a:bcde:f012", "2001:db8:abcd::/48")]
    public void Keeps_only_the_network_of_an_address(string address, string expected) =>
        Assert.Equal(expected, ClientNetwork.Truncate(IPAddress.Parse(address)));

    [Fact]
    public void Apple_range_is_recognized() =>
        Assert.Equal((true, false), (ClientNetwork.IsApple(IPAddress.Parse("17.58.1.2")), ClientNetwork.IsApple(IPAddress.Parse("18.58.1.2"))));
}
