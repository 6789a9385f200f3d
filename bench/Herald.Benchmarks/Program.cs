using BenchmarkDotNet.Running;
using Herald.Benchmarks;

if (args.Length > 0 && args[0] == "render-cpu")
{
    RenderCpuProbe.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
