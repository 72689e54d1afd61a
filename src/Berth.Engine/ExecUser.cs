using System.Globalization;

namespace Berth.Engine;

/// <summary>The container's /etc/passwd and /etc/group, read by the daemon from the rootfs (null when a file is absent).</summary>
public interface IUserDatabase
{
    string? ReadPasswd();
    string? ReadGroup();
}

/// <summary>The user the container's process runs as: uid, primary gid, and the gids setgroups(2) gets.</summary>
public sealed record ExecUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids);

/// <summary>
/// Config.User ("name", "uid", "name:group", "uid:gid") and HostConfig.GroupAdd resolved in the image's passwd and
/// group files, with runc's rules (libcontainer/user) and dockerd's list: a user name takes its uid and primary gid
/// from passwd; without an explicit group, the groups that list the user as a member follow the primary gid;
/// --group-add entries come last. A number with no entry is taken as it is; a name with no entry is an error.
/// </summary>
public static class ExecUserResolver
{
    const long MaxId = int.MaxValue;

    public static ExecUser Resolve(string userSpec, IReadOnlyList<string>? groupAdd, IUserDatabase files)
    {
        var (userArg, groupArg) = Split(userSpec);
        var passwd = files.ReadPasswd();
        var users = Parse(passwd, 4).Select(f => (Name: f[0], Uid: Id(f[2]), Gid: Id(f[3]))).ToList();
        var userIsNumber = TryId(userArg, out var uidArg);

        long uid = 0, gid = 0;
        string? matchedName = null;
        var match = users.FirstOrDefault(u => userArg.Length == 0 ? u.Uid == 0 : userIsNumber ? u.Uid == uidArg : u.Name == userArg);
        if (match.Name is not null)
        {
            (matchedName, uid, gid) = (match.Name, match.Uid, match.Gid);
        }
        else if (userArg.Length > 0)
        {
            if (!userIsNumber)
                throw new ContainerConfigException($"unable to find user {userArg}: no matching entries in passwd file");
            uid = uidArg;
        }

        var groups = Parse(files.ReadGroup(), 3).Select(f => (Name: f[0], Gid: Id(f[2]), Members: f.Length > 3 ? f[3].Split(',') : [])).ToList();
        List<uint> supplementary = [];
        if (groupArg.Length > 0)
        {
            var groupIsNumber = TryId(groupArg, out var gidArg);
            var group = groups.FirstOrDefault(g => groupIsNumber ? g.Gid == gidArg : g.Name == groupArg);
            if (group.Name is not null) gid = group.Gid;
            else if (groupIsNumber) gid = gidArg;
            else throw new ContainerConfigException($"unable to find group {groupArg}: no matching entries in group file");
        }
        else if (matchedName is not null)
        {
            supplementary.AddRange(groups.Where(g => g.Members.Contains(matchedName)).Select(g => (uint)g.Gid));
        }

        List<uint> additional = [(uint)gid, .. supplementary];
        var added = new HashSet<uint>();
        foreach (var wanted in groupAdd ?? [])
        {
            var byName = groups.FirstOrDefault(g => g.Name == wanted || g.Gid.ToString(CultureInfo.InvariantCulture) == wanted);
            long found;
            if (byName.Name is not null) found = byName.Gid;
            else if (TryId(wanted, out var n)) found = n;
            else throw new ContainerConfigException($"Unable to find group {wanted}: no matching entries in group file");
            // dockerd collects --group-add in a set: a group named twice is added once.
            if (added.Add((uint)found)) additional.Add((uint)found);
        }
        return new ExecUser((uint)uid, (uint)gid, additional);
    }

    static (string User, string Group) Split(string spec)
    {
        var colon = spec.IndexOf(':');
        return colon < 0 ? (spec.Trim(), "") : (spec[..colon].Trim(), spec[(colon + 1)..].Trim());
    }

    static bool TryId(string text, out long id)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id)) return false;
        if (id > MaxId) throw new ContainerConfigException($"uids and gids must be in range 0-{MaxId}: {text} is not");
        return true;
    }

    /// <summary>A number field of passwd or group; a malformed one counts as 0, as runc's parser reads it.</summary>
    static long Id(string field) =>
        long.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= MaxId ? n : 0;

    /// <summary>The colon-separated lines of a passwd or group file with at least <paramref name="minFields"/> fields.</summary>
    static IEnumerable<string[]> Parse(string? text, int minFields)
    {
        if (text is null) yield break;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var fields = line.Split(':');
            if (fields.Length >= minFields) yield return fields;
        }
    }
}
