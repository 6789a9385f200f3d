using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;
using SmtpServer;
using SmtpServer.Authentication;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace Herald.Core.Tests.Delivery;

/// <summary>STARTTLS and AUTH against a real SMTP server implementation (SmtpServer), not our scriptable one.</summary>
public sealed class RelaySecurityTests
{
    [Fact]
    public async Task Send_upgrades_with_STARTTLS_and_authenticates_with_credentials_from_the_environment()
    {
        var user = $"HERALD_TEST_USER_{Guid.NewGuid():N}";
        var password = $"HERALD_TEST_PASSWORD_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(user, "alice");
        Environment.SetEnvironmentVariable(password, "s3cret pass");
        await using var server = await SecureServer.StartAsync();
        await using var harness = await EngineHarness.CreateAsync(3);
        var campaign = WithRelay(EngineHarness.Campaign(1), new RelayOptions
        {
            Url = new Uri($"smtp://127.0.0.1:{server.Port}"),
            Connections = 1,
            StartTls = StartTlsMode.Required,
            UsernameEnv = user,
            PasswordEnv = password,
            InsecureSkipVerify = true,
        });

        var result = await harness.SendAsync(campaign);

        Assert.Equal((DeliveryStop.Completed, 3L), (result.Stop, result.Counts.Sent));
        Assert.Equal(3, server.Store.Secure);
        Assert.Equal(0, server.Store.Insecure);
        Assert.Equal(["alice:s3cret pass"], server.Authenticator.Seen.Distinct());
    }

    [Fact]
    public async Task Send_never_falls_back_to_cleartext_when_STARTTLS_is_required_but_not_offered_and_pauses()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(1);
        var campaign = WithRelay(EngineHarness.Campaign(t => t.UnreachableTimeout = TimeSpan.FromMilliseconds(500), 1), new RelayOptions
        {
            Url = new Uri($"smtp://127.0.0.1:{server.Port}"),
            Connections = 1,
            StartTls = StartTlsMode.Required,
        });

        var result = await harness.SendAsync(campaign);

        // The relay answers but cannot be used as configured: that needs a person, so the campaign pauses.
        Assert.Equal(DeliveryStop.Paused, result.Stop);
        Assert.Contains("does not offer STARTTLS", result.Reason, StringComparison.Ordinal);
        Assert.Equal(1, result.Counts.Pending);
        Assert.DoesNotContain(server.Commands, c => c.Line.StartsWith("MAIL", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Send_refuses_to_start_when_a_relay_credential_variable_is_not_set()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(1);
        var campaign = WithRelay(EngineHarness.Campaign(1), new RelayOptions
        {
            Url = new Uri($"smtp://127.0.0.1:{server.Port}"),
            UsernameEnv = $"HERALD_UNSET_{Guid.NewGuid():N}",
            PasswordEnv = $"HERALD_UNSET_{Guid.NewGuid():N}",
        });

        var error = await Assert.ThrowsAsync<HeraldException>(() => harness.SendAsync(campaign));

        Assert.Contains(campaign.Relays[0].UsernameEnv!, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Connections);
        Assert.Equal(1, (await harness.Store.GetCountsAsync("test", TestContext.Current.CancellationToken)).Pending);
    }

    private static Campaign WithRelay(Campaign campaign, RelayOptions relay) => EngineHarness.WithRelays(campaign, [relay]);

    private sealed class SecureServer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _running = Task.CompletedTask;

        public int Port { get; private set; }

        public CountingStore Store { get; } = new();

        public RecordingAuthenticator Authenticator { get; } = new();

        public static async Task<SecureServer> StartAsync()
        {
            var server = new SecureServer();
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                server.Port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
            }

            var options = new SmtpServerOptionsBuilder()
                .ServerName("secure.test")
                .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, server.Port))
                    .Certificate(SelfSigned())
                    .AuthenticationRequired()
                    .AllowUnsecureAuthentication(false))
                .Build();
            var services = new SmtpServer.ComponentModel.ServiceProvider();
            services.Add(server.Store);
            services.Add(server.Authenticator);
            var host = new SmtpServer.SmtpServer(options, services);
            server._running = host.StartAsync(server._stop.Token);
            // Ready once the port answers.
            for (var i = 0; i < 200; i++)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, server.Port, TestContext.Current.CancellationToken);
                    return server;
                }
                catch (SocketException)
                {
                    await Task.Delay(10, TestContext.Current.CancellationToken);
                }
            }

            throw new InvalidOperationException("the test SMTP server did not start");
        }

        private static X509Certificate2 SelfSigned()
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=secure.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _running;
            }
            catch (OperationCanceledException)
            {
            }

            _stop.Dispose();
        }
    }

    private sealed class CountingStore : MessageStore
    {
        private int _secure;
        private int _insecure;

        public int Secure => _secure;

        public int Insecure => _insecure;

        public override Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref context.Pipe.IsSecure ? ref _secure : ref _insecure);
            return Task.FromResult(SmtpResponse.Ok);
        }
    }

    private sealed class RecordingAuthenticator : IUserAuthenticator
    {
        public List<string> Seen { get; } = [];

        public Task<bool> AuthenticateAsync(ISessionContext context, string user, string password, CancellationToken cancellationToken)
        {
            lock (Seen)
            {
                Seen.Add($"{user}:{password}");
            }

            return Task.FromResult(user == "alice" && password == "s3cret pass");
        }
    }
}
