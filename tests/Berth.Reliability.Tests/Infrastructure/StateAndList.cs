using System.Text.Json.Nodes;
using Berth.Integration.Tests.Infrastructure;

namespace Berth.Reliability.Tests.Infrastructure;

/// <summary>`state ID` and `list` after something went wrong: they must answer within a bound, clearly, and agree.</summary>
public static class StateAndList
{
    /// <summary>The status both report for <paramref name="id"/>, or null when neither knows it.</summary>
    public static string? Agree(RuntimeRunner runtime, string id, TimeSpan bound)
    {
        var state = runtime.Run(["state", id], globalArguments: null, timeout: bound);
        var list = runtime.Run(["list", "--format", "json"], globalArguments: null, timeout: bound);
        foreach (var result in new[] { state, list })
        {
            Assert.False(result.TimedOut, "hung: " + result);
            ErrorLines.AssertClear(result);
        }
        Assert.True(list.Succeeded, list.ToString());
        var listed = JsonNode.Parse(list.Stdout)!.AsArray().Select(s => s!.AsObject()).FirstOrDefault(s => (string?)s["id"] == id);
        if (!state.Succeeded)
        {
            Assert.Contains("does not exist", state.Stderr);
            Assert.True(listed is null, $"state does not know {id}, list does: {list.Stdout}");
            return null;
        }
        string status = (string)JsonNode.Parse(state.Stdout)!["status"]!;
        Assert.True(listed is not null, $"state knows {id} ({status}), list does not: {list.Stdout}");
        Assert.Equal(status, (string)listed!["status"]!);
        return status;
    }
}
