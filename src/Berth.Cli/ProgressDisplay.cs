using Berth.Api;
using Spectre.Console;

namespace Berth.Cli;

/// <summary>
/// Shows a progress stream (pull, push, load, import). On a terminal: a bar per layer (Spectre.Console).
/// Otherwise docker's plain form: one "id: status" line per message, the byte-count updates left out.
/// An error line ends the display with <see cref="StreamErrorException"/>.
/// </summary>
public static class ProgressDisplay
{
    public static bool IsTerminal => !Console.IsOutputRedirected;

    /// <summary>Consumes the stream; calls <paramref name="onAux"/> for aux payloads (push's digest).</summary>
    public static Task ShowAsync(IAsyncEnumerable<JsonMessage> messages, TextWriter output, bool terminal,
        Action<System.Text.Json.JsonElement>? onAux = null, CancellationToken ct = default) =>
        terminal ? ShowBarsAsync(messages, onAux, ct) : ShowPlainAsync(messages, output, onAux, ct);

    public static async Task ShowPlainAsync(IAsyncEnumerable<JsonMessage> messages, TextWriter output,
        Action<System.Text.Json.JsonElement>? onAux = null, CancellationToken ct = default)
    {
        await foreach (var message in messages.WithCancellation(ct))
        {
            if (message.Error is not null || message.ErrorDetail is not null)
                throw new StreamErrorException(message.ErrorDetail?.Message ?? message.Error!);
            if (message.Aux is { } aux) onAux?.Invoke(aux);
            if (PlainLine(message) is { } line) output.Write(line);
        }
    }

    /// <summary>The text docker prints for a message off a terminal, or null for a byte-count update.</summary>
    public static string? PlainLine(JsonMessage message)
    {
        if (message.ProgressDetail is { } detail && (detail.Current > 0 || detail.Total > 0)) return null;
        if (message.Stream is { } stream) return stream;
        if (message.Status is null) return null;
        return message.Id is { Length: > 0 } id ? $"{id}: {message.Status}\n" : message.Status + "\n";
    }

    static async Task ShowBarsAsync(IAsyncEnumerable<JsonMessage> messages, Action<System.Text.Json.JsonElement>? onAux, CancellationToken ct)
    {
        var progress = AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new DownloadedColumn());
        await progress.StartAsync(async context =>
        {
            var layers = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
            await foreach (var message in messages.WithCancellation(ct))
            {
                if (message.Error is not null || message.ErrorDetail is not null)
                    throw new StreamErrorException(message.ErrorDetail?.Message ?? message.Error!);
                if (message.Aux is { } aux) onAux?.Invoke(aux);
                // Lines that are not about one layer ("latest: Pulling from busybox", "Digest: ...") print above the bars.
                if (message.Id is not { Length: > 0 } id || message.ProgressDetail is null && !layers.ContainsKey(id) && IsHeader(message))
                {
                    if (PlainLine(message) is { } line) AnsiConsole.Write(new Text(line));
                    continue;
                }
                if (!layers.TryGetValue(id, out var task))
                {
                    // Spectre refuses a task without a description: start it with the first status.
                    task = context.AddTask(Markup.Escape($"{id}: {message.Status}"), autoStart: true, maxValue: 1);
                    task.IsIndeterminate = true;
                    layers[id] = task;
                }
                task.Description = Markup.Escape($"{id}: {message.Status}");
                if (message.ProgressDetail is { Total: > 0 } detail)
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = detail.Total;
                    task.Value = Math.Min(detail.Current, detail.Total);
                }
                if (IsLayerDone(message.Status))
                {
                    task.IsIndeterminate = false;
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            }
        });
    }

    static bool IsHeader(JsonMessage message) =>
        message.Status is { } s && (s.StartsWith("Pulling from ", StringComparison.Ordinal) || s.StartsWith("The push refers", StringComparison.Ordinal));

    static bool IsLayerDone(string? status) => status is "Pull complete" or "Already exists" or "Pushed" or "Layer already exists"
        or "Mounted from" || status?.StartsWith("Mounted from", StringComparison.Ordinal) == true;
}
