using Berth.Runtime.Configs;

namespace Berth.Runtime;

/// <summary>
/// How the spawn stage gets a child into the spec's namespaces (the seed's `config.Namespaces.CloneFlags()`):
/// which ones clone(2) creates, which are joined by setns(2) and in what order, which are unshared afterwards,
/// and whether a last fork is needed so the exec'd init is inside the PID namespace. A pure function, so the
/// rules are unit-tested.
/// </summary>
public sealed record CloneFlags(
    int AtClone,
    IReadOnlyList<NamespaceConfig> Joins,
    int Unshare,
    bool UnshareCgroup,
    bool ForkAfter,
    bool NewUserNamespace,
    bool NewTimeNamespace)
{
    /// <summary>
    /// Become uid 0 and gid 0 of the user namespace once the maps are written: a new one, or a joined one, where the
    /// runtime's uid may be unmapped (another container's, whose root is an unprivileged host uid). Without the switch
    /// the exec'd init would lose the capabilities that setns gave, as runc's last stage, which always switches, avoids.
    /// </summary>
    public bool BecomeRoot => NewUserNamespace || Joins.Any(n => n.Kind == NamespaceKind.User);

    const int NewTime = 0x80, NewCgroup = 0x02000000, NewPid = 0x20000000;

    public static CloneFlags For(IReadOnlyList<NamespaceConfig> namespaces)
    {
        var joins = namespaces.Where(n => n.Path is not null)
            // Join the user namespace first: the others are owned by it, and only inside it do we hold the
            // capabilities that setns(2) checks.
            .OrderBy(n => n.Kind == NamespaceKind.User ? 0 : 1)
            .ToList();
        var created = namespaces.Where(n => n.Path is null).ToList();
        int newFlags = created.Aggregate(0, (acc, n) => acc | n.CloneFlag);

        // The cgroup namespace is unshared only after the parent moved the child into the container's cgroups,
        // so that it is rooted there. clone(2) cannot take CLONE_NEWTIME (it collides with the exit-signal
        // byte), so the time namespace is always unshared; execve moves the process into it.
        int deferred = newFlags & (NewCgroup | NewTime);
        int rest = newFlags & ~deferred;

        // Namespaces created at clone time are owned by the caller's user namespace. When anything is joined,
        // create the rest only after the joins, so a new user namespace (or a joined one) owns them.
        int atClone = joins.Count == 0 ? rest : 0;
        int unshare = (joins.Count == 0 ? 0 : rest) | (newFlags & NewTime);

        bool pidJoined = joins.Any(n => n.Kind == NamespaceKind.Pid);
        bool pidUnshared = (unshare & NewPid) != 0;
        return new CloneFlags(
            AtClone: atClone,
            Joins: joins,
            Unshare: unshare,
            UnshareCgroup: (newFlags & NewCgroup) != 0,
            ForkAfter: pidJoined || pidUnshared,
            NewUserNamespace: created.Any(n => n.Kind == NamespaceKind.User),
            NewTimeNamespace: created.Any(n => n.Kind == NamespaceKind.Time));
    }
}
