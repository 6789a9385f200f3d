using BenchmarkDotNet.Running;
using Herald.Benchmarks;

if (args.Length > 0 && args[0] == "render-cpu")
{
    RenderCpuProbe.Run();
    return;
}

if (args.Length > 0 && args[0] == "dkim-cpu")
{
    DkimCpuProbe.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
