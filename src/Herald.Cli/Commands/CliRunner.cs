using Herald.Store;

namespace Herald.Cli.Commands;

/// <summary>Shared plumbing: turns user mistakes into clear messages and exit codes, never stack traces.</summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Invalid = 1;
    public const int Incomplete = 2;
    public const int Unreachable = 3;

    /// <summary>The campaign paused itself: every relay is out of rotation for a sender-side problem (authentication,
    /// policy block, 4xx storm) or a reputation guard tripped (hard-bounce or complaint rate). Fix it, run send again.</summary>
    public const int Paused = 4;

    /// <summary>The store stayed unavailable past <c>--store-outage-timeout</c>; nothing was lost, run send again.</summary>
    public const int StoreUnavailable = 5;
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (CampaignException ex)
        {
            foreach (var problem in ex.Problems)
            {
                Console.Error.WriteLine(problem.ToString());
            }

            return Invalid;
        }
        catch (StoreException ex) when (ex.IsTransient)
        {
            Console.Error.WriteLine($"error: the store is unavailable: {ex.Message}. Nothing was changed; run the command again once the store is back.");
            return StoreUnavailable;
        }
        catch (HeraldException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return Invalid;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("stopped.");
            return Interrupted;
        }
    }

    public static Task<int> Run(Func<int> body) => RunAsync(() => Task.FromResult(body()));
}
