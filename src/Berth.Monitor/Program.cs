using Berth.ExecDrivers;
using Berth.Monitor;
using Berth.Runtime.Init;

if (Berth.Linux.SupportedPlatform.Refusal("berth-monitor") is { } refusal)
{
    Console.Error.WriteLine(refusal);
    return 1;
}
// The in-process driver starts the container's init by re-executing this binary with `init`, as berth-runtime does.
if (args is ["init"]) return ContainerInit.Run();
if (args is ["serve", var served]) return ContainerMonitor.Serve(served);
if (args is [var request]) return ContainerMonitor.Detach(request);
Console.Error.WriteLine("usage: berth-monitor <exec-root>/containers/<id>/monitor.json");
return 2;
