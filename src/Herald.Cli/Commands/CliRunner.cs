using Herald.Store;

namespace Herald.Cli.Commands;

/// <summary>Shared plumbing: turns user mistakes into clear messages and exit codes, never stack traces.</summary>
internal static class CliRunner
{
    public const int Ok = 0;
    public const int Invalid = 1;
    public const int Incomplete = 2;
    public const int Unreachable = 3;
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
