using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>`state ID` and `list` after something went wrong: they must answer within a bound, clearly, and agree.</summary>
public static class StateAndList
{
    /// <summary>
    /// The status both report for <paramref name="id"/>, or null when neither knows it. A container may still change
    /// between the two reads (an init sent SIGKILL just before takes a while to exit on a loaded machine), so `list`
    /// is read between two `state`s and compared only when those agree: statuses only move forward.
    /// </summary>
    public static string? Agree(RuntimeRunner runtime, string id, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var before = Read(runtime, ["state", id], bound);
            var list = Read(runtime, ["list", "--format", "json"], bound);
            var after = Read(runtime, ["state", id], bound);
            Assert.True(list.Succeeded, list.ToString());
            string? statusBefore = Status(before), statusAfter = Status(after);
            if (statusBefore != statusAfter && DateTime.UtcNow < deadline)
                continue;
            var listed = JsonNode.Parse(list.Stdout)!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string?)s["id"] == id);
            if (statusBefore is null)
            {
                Assert.Contains("does not exist", before.Stderr);
                Assert.True(listed is null, $"state does not know {id}, list does: {list.Stdout}");
                return null;
            }
            Assert.True(listed is not null, $"state knows {id} ({statusBefore}), list does not: {list.Stdout}");
            Assert.Equal(statusBefore, (string)listed!["status"]!);
            return statusBefore;
        }
    }

    static RuntimeResult Read(RuntimeRunner runtime, string[] arguments, TimeSpan bound)
    {
        var result = runtime.Run(arguments, globalArguments: null, timeout: bound);
        Assert.False(result.TimedOut, "hung: " + result);
        ErrorLines.AssertClear(result);
        return result;
    }

    static string? Status(RuntimeResult state) => state.Succeeded ? (string)JsonNode.Parse(state.Stdout)!["status"]! : null;
}
