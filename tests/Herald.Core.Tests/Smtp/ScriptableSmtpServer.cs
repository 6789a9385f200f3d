using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using static Herald.Core.Tests.Smtp.SmtpAction;

namespace Herald.Core.Tests.Smtp;

/// <summary>
/// A raw-socket SMTP server for delivery tests that can misbehave at every stage (see <see cref="SmtpScript"/>).
/// Written from scratch because a library server cannot close or stall at arbitrary points. Commands are read
/// line by line and answered in order, so pipelined clients work. Loopback only, port 0.
/// </summary>
public sealed partial class ScriptableSmtpServer : IAsyncDisposable
{
    private readonly SmtpScript _script;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _finalDots = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _accepted = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _rcptAttempts = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ReceivedMessage> _messages = [];
    private readonly List<(int Connection, string Line)> _commands = [];
    private readonly List<string> _auth = [];
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private readonly List<Task> _connectionTasks = [];
    private readonly HashSet<Socket> _openSockets = [];
    private readonly Socket _portHolder;
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _connections;
    private int _transactions;
    private int _totalFinalDots;

    private ScriptableSmtpServer(SmtpScript script)
    {
        _script = script;
        // Keeps the port reserved while nothing listens on it: connecting then gets ECONNREFUSED,
        // and listening can resume on the same port.
        _portHolder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _portHolder.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _portHolder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_portHolder.LocalEndPoint!).Port;
    }

    public static ScriptableSmtpServer Start(SmtpScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var server = new ScriptableSmtpServer(script);
        server.SetRefusing(script.Refuse);
        return server;
    }

    public int Port { get; }

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>How many complete messages (final dot received) there were for this recipient.</summary>
    public int FinalDotsFor(string recipient)
    {
        lock (_lock)
        {
            return _finalDots.GetValueOrDefault(recipient);
        }
    }

    /// <summary>How many times the final dot for this recipient was answered with 2xx.</summary>
    public int AcceptedFor(string recipient)
    {
        lock (_lock)
        {
            return _accepted.GetValueOrDefault(recipient);
        }
    }

    public IReadOnlyList<ReceivedMessage> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>Every command line received, with its connection number (DATA content excluded).</summary>
    public IReadOnlyList<(int Connection, string Line)> Commands
    {
        get
        {
            lock (_lock)
            {
                return [.. _commands];
            }
        }
    }

    /// <summary>Completes when <paramref name="count"/> final dots were received in total; throws TimeoutException after <paramref name="timeout"/>.</summary>
    public Task WaitForFinalDotsAsync(int count, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_totalFinalDots >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task.WaitAsync(timeout);
        }
    }

    /// <summary>Stops (true) or resumes (false) listening on <see cref="Port"/>; open connections are not touched.</summary>
    public void SetRefusing(bool refusing)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            if (refusing)
            {
                _listener?.Dispose();
                _listener = null;
                return;
            }

            if (_listener is not null)
            {
                return;
            }

            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            listener.Listen(128);
            _listener = listener;
            var previous = _acceptLoop;
            _acceptLoop = Task.WhenAll(previous, Task.Run(() => AcceptLoopAsync(listener)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] tasks;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            _listener?.Dispose();
            _listener = null;
            foreach (var socket in _openSockets)
            {
                socket.Dispose();
            }

            tasks = [_acceptLoop, .. _connectionTasks];
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }

        _portHolder.Dispose();
        _disposed.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_disposed.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return; // disposed, or SetRefusing(true) closed this listener
            }

            client.NoDelay = true;
            var number = Interlocked.Increment(ref _connections);
            lock (_lock)
            {
                if (_disposed.IsCancellationRequested)
                {
                    client.Dispose();
                    return;
                }

                _openSockets.Add(client);
                _connectionTasks.Add(Task.Run(() => RunConnectionAsync(client, number)));
            }
        }
    }

    private async Task RunConnectionAsync(Socket socket, int connection)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var session = new Session(this, socket, stream, connection);
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away, or the server is being disposed: both are normal endings here.
        }
        finally
        {
            lock (_lock)
            {
                _openSockets.Remove(socket);
            }

            socket.Dispose();
        }
    }

    /// <summary>The decoded <c>user:password</c> of every AUTH received (empty when it did not decode).</summary>
    public IReadOnlyList<string> AuthAttempts
    {
        get
        {
            lock (_lock)
            {
                return [.. _auth];
            }
        }
    }

    private void RecordAuth(string credentials)
    {
        lock (_lock)
        {
            _auth.Add(credentials);
        }
    }

    private void RecordCommand(int connection, string line)
    {
        lock (_lock)
        {
            _commands.Add((connection, line));
        }
    }

    private int NextTransaction() => Interlocked.Increment(ref _transactions);

    private int NextRcptAttempt(string recipient)
    {
        lock (_lock)
        {
            var attempt = _rcptAttempts.GetValueOrDefault(recipient) + 1;
            _rcptAttempts[recipient] = attempt;
            return attempt;
        }
    }

    private void RecordFinalDot(IReadOnlyList<string> recipients, byte[] data, int? replyCode, int connection)
    {
        lock (_lock)
        {
            foreach (var recipient in recipients)
            {
                _messages.Add(new ReceivedMessage(recipient, data, replyCode, connection));
                _finalDots[recipient] = _finalDots.GetValueOrDefault(recipient) + 1;
                if (replyCode is >= 200 and < 300)
                {
                    _accepted[recipient] = _accepted.GetValueOrDefault(recipient) + 1;
                }
            }

            _totalFinalDots += recipients.Count;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _totalFinalDots)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static string Text(int code, string text) => string.Create(CultureInfo.InvariantCulture, $"{code} {text}");

    private static readonly Encoding Latin1 = Encoding.Latin1;
}
