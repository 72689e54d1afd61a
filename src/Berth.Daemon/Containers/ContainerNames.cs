using System.Security.Cryptography;
using Berth.Daemon.Api;

namespace Berth.Daemon.Containers;

/// <summary>Container ids and names as dockerd makes and checks them.</summary>
public static class ContainerNames
{
    // Berth's own word lists for generated names (adjective_surname, as dockerd names containers).
    static readonly string[] Adjectives =
    [
        "agile", "brave", "bright", "calm", "careful", "cheerful", "clever", "curious", "daring", "eager", "festive",
        "gentle", "happy", "honest", "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry", "modest", "nimble",
        "patient", "polite", "quiet", "quick", "sharp", "steady", "sunny", "tender", "tidy", "upbeat", "vivid", "warm",
        "wise", "witty", "zealous",
    ];

    static readonly string[] Surnames =
    [
        "agnesi", "bardeen", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "faraday", "fermi", "franklin",
        "galileo", "gauss", "hopper", "hypatia", "kepler", "knuth", "lamarr", "lovelace", "maxwell", "meitner", "newton",
        "noether", "pascal", "planck", "ramanujan", "ritchie", "shannon", "thompson", "turing", "volta", "wiles",
    ];

    /// <summary>A random 64-hex id whose 12-character short form is not all digits (it could be read as a number).</summary>
    public static string NewId()
    {
        while (true)
        {
            string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            if (!id[..12].All(char.IsAsciiDigit)) return id;
        }
    }

    /// <summary>"adjective_surname", with a digit appended after the first try (dockerd's retry).</summary>
    public static string Generate(int attempt)
    {
        string name = $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}_{Surnames[RandomNumberGenerator.GetInt32(Surnames.Length)]}";
        return attempt == 0 ? name : name + RandomNumberGenerator.GetInt32(10);
    }

    /// <summary>The name with its leading slash, or 400 with dockerd's sentence when it breaks [a-zA-Z0-9][a-zA-Z0-9_.-]+.</summary>
    public static string Normalize(string name)
    {
        string bare = name.StartsWith('/') ? name[1..] : name;
        bool valid = bare.Length >= 2 && char.IsAsciiLetterOrDigit(bare[0]) &&
                     bare.Skip(1).All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
        if (!valid) throw ApiException.BadRequest($"Invalid container name ({bare}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        return "/" + bare;
    }

    public static ApiException Conflict(string name, string id) => ApiException.Conflict(
        $"Conflict. The container name \"{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.");

    public static ApiException NotFound(string reference) => ApiException.NotFound($"No such container: {reference}");
}
