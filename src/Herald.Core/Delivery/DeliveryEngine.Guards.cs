using Herald.Store;

namespace Herald.Delivery;

/// <summary>The pause: relays out of rotation, guards, and a pause recorded by another sender of the campaign.</summary>
public sealed partial class DeliveryEngine
{
    /// <summary>Stops claiming and pauses the campaign (the first reason wins); transactions in flight finish.</summary>
    private void RequestPause(string reason)
    {
        Interlocked.CompareExchange(ref _pauseReason, reason, null);
        _wake.Release();
    }

    /// <summary>Every relay that is not up, with its reason: <c>relay smtp-1: 530 5.7.0 Authentication required</c>.</summary>
    private string RelayProblems()
    {
        var problems = _relays.Where(r => r.IsOutOfRotation || r.Breaker.IsOpen || !r.EverConnected)
            .Select(r => $"relay {r.Name}: {r.Problem ?? "not reached yet"}")
            .ToList();
        return problems.Count > 0 ? string.Join("; ", problems) : "every relay is out of rotation";
    }

    /// <summary>The guards' periodic checks, and a pause another sender of this campaign recorded since this run started.</summary>
    private async Task<string?> PollGuardsAsync(DateTimeOffset runStart, CancellationToken stopToken)
    {
        foreach (var guard in _options.Guards)
        {
            if (await guard.PollAsync(stopToken).ConfigureAwait(false) is { } reason)
            {
                return reason;
            }
        }

        if (_options.State is { } state)
        {
            try
            {
                if (await state.GetPauseAsync(_campaign.Id, stopToken).ConfigureAwait(false) is { } pause && pause.Since >= runStart)
                {
                    return pause.Reason;
                }
            }
            catch (StoreException)
            {
                // Checked again next time; the ledger, not this check, decides what is sent.
            }
        }

        return null;
    }
}
