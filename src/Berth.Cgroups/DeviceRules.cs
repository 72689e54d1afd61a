using Berth.Oci;

namespace Berth.Cgroups;

/// <summary>One write to a v1 devices controller file: "devices.allow" or "devices.deny", and the line.</summary>
public readonly record struct DeviceWrite(string File, string Value);

/// <summary>
/// linux.resources.devices, read the way runc reads it: the container starts from deny-all and the rules apply
/// in order. (So the caller must append the default allowed devices, /dev/null and friends, as runc's specconv
/// does; this class adds nothing.)
/// </summary>
public static class DeviceRules
{
    public const string AllowFile = "devices.allow", DenyFile = "devices.deny";

    /// <summary>
    /// The writes that give a v1 devices cgroup this policy: "a" to devices.deny, then one line per rule
    /// ("c 1:3 rwm", "*" for a wildcard number). The kernel reads type "a" as "everything" and ignores numbers
    /// and access after it, so an "a" rule that is narrower than everything is written as the same rule for
    /// "c" and for "b".
    /// </summary>
    public static IReadOnlyList<DeviceWrite> V1Writes(IReadOnlyList<LinuxDeviceCgroup>? rules)
    {
        var writes = new List<DeviceWrite> { new(DenyFile, "a") };
        if (rules is null)
            return writes;
        for (int i = 0; i < rules.Count; i++)
        {
            var rule = Normalize(rules[i], i);
            string file = rules[i].Allow ? AllowFile : DenyFile;
            if (rule.Type == 'a' && rule.IsEverything)
                writes.Add(new(file, "a"));
            else if (rule.Type == 'a')
            {
                writes.Add(new(file, rule.Line('c')));
                writes.Add(new(file, rule.Line('b')));
            }
            else
                writes.Add(new(file, rule.Line(rule.Type)));
        }
        return writes;
    }

    internal readonly record struct Normalized(char Type, string Major, string Minor, string Access)
    {
        /// <summary>The major number, or null for any ("*").</summary>
        public long? MajorNumber => Major == "*" ? null : long.Parse(Major, System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>The minor number, or null for any ("*").</summary>
        public long? MinorNumber => Minor == "*" ? null : long.Parse(Minor, System.Globalization.CultureInfo.InvariantCulture);

        public bool IsEverything => Major == "*" && Minor == "*" && Access == "rwm";

        public string Line(char type) => $"{type} {Major}:{Minor} {Access}";
    }

    internal static Normalized Normalize(LinuxDeviceCgroup rule, int index)
    {
        string where = $"linux.resources.devices[{index}]";
        char type = rule.Type switch
        {
            null or "" or "a" => 'a',
            "c" => 'c',
            "b" => 'b',
            _ => throw new CgroupException($"{where}.type \"{rule.Type}\" is not a device cgroup type (a, b or c)"),
        };
        string access = string.IsNullOrEmpty(rule.Access) ? "rwm" : rule.Access;
        if (access.Any(c => c is not ('r' or 'w' or 'm')))
            throw new CgroupException($"{where}.access \"{rule.Access}\" may only contain r, w and m");
        access = string.Concat("rwm".Where(access.Contains));
        return new Normalized(type, Number(rule.Major, $"{where}.major"), Number(rule.Minor, $"{where}.minor"), access);
    }

    static string Number(long? value, string where) => value switch
    {
        null or -1 => "*",
        >= 0 => value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new CgroupException($"{where} {value} is negative (leave it out, or -1, for any)"),
    };
}
