namespace Berth.Daemon.Hosting;

/// <summary>The daemon's identity in /info: a random UUID made once and kept in the data root.</summary>
public static class EngineId
{
    public static string LoadOrCreate(string file)
    {
        if (File.Exists(file))
        {
            string text = File.ReadAllText(file).Trim();
            if (Guid.TryParse(text, out _)) return text;
            throw new InvalidDataException($"{file}: not an engine id (a UUID): '{(text.Length > 40 ? text[..40] + "..." : text)}'");
        }
        string id = Guid.NewGuid().ToString();
        // Written aside and renamed, so a crash never leaves a half-written id.
        string temp = file + ".tmp";
        File.WriteAllText(temp, id + "\n");
        File.Move(temp, file, overwrite: true);
        return id;
    }
}
