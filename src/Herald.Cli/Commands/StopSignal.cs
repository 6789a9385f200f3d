using System.Runtime.InteropServices;

namespace Herald.Cli.Commands;

/// <summary>Turns Ctrl-C (SIGINT) and SIGTERM into a graceful stop instead of a kill.</summary>
internal sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;

    public StopSignal()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _stop.Token;

    public bool Requested => _stop.IsCancellationRequested;

    private void OnSignal(PosixSignalContext context)
    {
        // Keep the process alive: in-flight transactions finish and their outcomes are recorded.
        context.Cancel = true;
        if (!_stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("stopping: no new messages; finishing those in flight…");
            _stop.Cancel();
        }
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _stop.Dispose();
    }
}
