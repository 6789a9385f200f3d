using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Herald.Cli.Tests.Bounces;

/// <summary>
/// A real Postfix (Debian's package) as a test fixture: its own configuration, queue and data folders in a temporary
/// folder, listening on a free loopback port only, never the system's instance. Local delivery to a user that does not
/// exist bounces (5.1.1); <c>sync.postfix-test.example</c> rejects unknown recipients at RCPT; mail for the bounce domain
/// goes to the given port. Postfix's master must start as root (it drops to the <c>postfix</c> user).
/// </summary>
internal sealed class PrivatePostfix : IDisposable
{
    public const string LocalDomain = "postfix-test.example";
    public const string SyncDomain = "sync.postfix-test.example";

    private readonly string _root;

    private PrivatePostfix(string root, int port)
    {
        _root = root;
        Port = port;
    }

    /// <summary>The port its smtpd listens on (127.0.0.1).</summary>
    public int Port { get; }

    public string Maillog => Path.Combine(_root, "maillog");

    public string Log => File.Exists(Maillog) ? File.ReadAllText(Maillog) : "(no maillog)";

    public static async Task<PrivatePostfix> StartAsync(string bounceDomain, int bouncePort)
    {
        if (!File.Exists("/usr/sbin/postfix") || !Directory.Exists("/usr/lib/postfix/sbin"))
        {
            throw new InvalidOperationException("Debian's postfix package is not installed (apt-get install postfix): the real-Postfix bounce test needs it.");
        }

        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("the real-Postfix bounce test must run as root: Postfix's master starts as root and drops to the postfix user.");
        }

        var root = Directory.CreateTempSubdirectory("herald-postfix-").FullName;
        // Postfix daemons (as the postfix user) must reach the queue folder inside.
        await RunAsync("chmod", "755", root);
        foreach (var folder in new[] { "conf", "queue", "data" })
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
        }

        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(root, "conf", "main.cf"), $"""
            compatibility_level = 3.6
            queue_directory = {root}/queue
            data_directory = {root}/data
            command_directory = /usr/sbin
            daemon_directory = /usr/lib/postfix/sbin
            meta_directory = /etc/postfix
            shlib_directory = /usr/lib/postfix
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = mail.{LocalDomain}
            mydomain = {LocalDomain}
            myorigin = $myhostname
            mydestination = {LocalDomain}
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
            local_recipient_maps =
            alias_maps =
            alias_database =
            relay_domains = {SyncDomain}
            relay_recipient_maps = inline:{"{"} known@{SyncDomain}=ok {"}"}
            transport_maps = inline:{"{"} {bounceDomain}=smtp:[127.0.0.1]:{bouncePort}, {SyncDomain}=discard: {"}"}
            smtp_dns_support_level = disabled
            maillog_file = {root}/maillog
            maillog_file_prefixes = {Path.GetTempPath().TrimEnd('/')}, /tmp
            queue_run_delay = 1s
            minimal_backoff_time = 1s
            maximal_backoff_time = 2s
            delay_warning_time = 0
            smtputf8_enable = no
            biff = no
            """);
        await File.WriteAllTextAsync(Path.Combine(root, "conf", "master.cf"), $"""
            127.0.0.1:{port} inet n - n - - smtpd
            pickup    unix  n - n 60 1 pickup
            cleanup   unix  n - n - 0 cleanup
            qmgr      unix  n - n 300 1 qmgr
            rewrite   unix  - - n - - trivial-rewrite
            bounce    unix  - - n - 0 bounce
            defer     unix  - - n - 0 bounce
            trace     unix  - - n - 0 bounce
            verify    unix  - - n - 1 verify
            flush     unix  n - n 1000 0 flush
            proxymap  unix  - - n - - proxymap
            smtp      unix  - - n - - smtp
            relay     unix  - - n - - smtp
            showq     unix  n - n - - showq
            error     unix  - - n - - error
            retry     unix  - - n - - error
            discard   unix  - - n - - discard
            local     unix  - n n - - local
            anvil     unix  - - n - 1 anvil
            scache    unix  - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd

            """);
        var postfix = new PrivatePostfix(root, port);
        try
        {
            await RunAsync("chown", "postfix:", Path.Combine(root, "data"));
            await RunAsync("/usr/sbin/postfix", "-c", Path.Combine(root, "conf"), "start");
            await postfix.WaitListeningAsync();
            return postfix;
        }
        catch (Exception ex)
        {
            var log = postfix.Log;
            postfix.Dispose();
            throw new InvalidOperationException($"the private Postfix did not start: {ex.Message}\n{log}", ex);
        }
    }

    private async Task WaitListeningAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, TestContext.Current.CancellationToken);
                return;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static async Task RunAsync(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', args)} exited {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {await error}{await output}");
        }
    }

    public void Dispose()
    {
        try
        {
            RunAsync("/usr/sbin/postfix", "-c", Path.Combine(_root, "conf"), "stop").GetAwaiter().GetResult();
        }
        catch (InvalidOperationException)
        {
            // Not running (it did not start).
        }
        catch (TimeoutException)
        {
            KillMaster();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void KillMaster()
    {
        var pidFile = Path.Combine(_root, "queue", "pid", "master.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            try
            {
                using var master = Process.GetProcessById(pid);
                master.Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
            }
        }
    }
}
