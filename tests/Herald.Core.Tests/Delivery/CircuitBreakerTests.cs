using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

public sealed class CircuitBreakerTests
{
    [Fact]
    public void Opens_after_consecutive_failures_then_lets_one_probe_through_after_the_cooldown()
    {
        var clock = new ManualTimeProvider();
        var breaker = new CircuitBreaker(3, TimeSpan.FromSeconds(30), clock);

        breaker.Failure();
        breaker.Failure();
        Assert.Equal(TimeSpan.Zero, breaker.TryEnter());
        breaker.Failure();

        Assert.True(breaker.IsOpen);
        Assert.Equal(TimeSpan.FromSeconds(30), breaker.TryEnter());
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(TimeSpan.Zero, breaker.TryEnter());
        Assert.NotEqual(TimeSpan.Zero, breaker.TryEnter());

        breaker.Success();
        Assert.False(breaker.IsOpen);
        Assert.Equal(TimeSpan.Zero, breaker.TryEnter());
    }

    [Fact]
    public void A_failed_probe_opens_the_circuit_again()
    {
        var clock = new ManualTimeProvider();
        var breaker = new CircuitBreaker(1, TimeSpan.FromSeconds(10), clock);
        breaker.Failure();
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(TimeSpan.Zero, breaker.TryEnter());

        breaker.Failure();

        Assert.Equal(TimeSpan.FromSeconds(10), breaker.TryEnter());
    }
}
