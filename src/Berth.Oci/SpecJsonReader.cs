using System.Text;
using System.Text.Json;

namespace Berth.Oci;

/// <summary>
/// Reads config.json into a <see cref="Spec"/> with a <see cref="Utf8JsonReader"/>, by hand, with the serializer's
/// rules: property names as OciJsonContext spells them (case-sensitive, the last of duplicates wins), unknown
/// fields skipped, null accepted wherever the property can hold it, numbers only as JSON numbers in range, and the
/// same "wrong type for PATH (line L, column C): expected X" and "malformed JSON at PATH ..." sentences.
/// Why by hand: the source-generated OciJsonContext still builds every type's metadata at run time on first use
/// (converters, property lists, a reflection scan for polymorphism attributes on each type, each converter asking
/// for its type's assembly), about a tenth of the runtime's CPU for a `run` of /bin/true. Nothing here reflects
/// and the reader allocates only the spec. OciJsonContext still writes specs (`spec`) and reads --process and
/// --resources, off the path of create and run; a test reads every property both ways and compares.
/// </summary>
public sealed class SpecJsonReader
{
    // The JSON path of the value being read, "$" first: property names, or array indexes (Name null).
    readonly List<(string? Name, int Index)> _path = [];
    readonly byte[] _json;

    SpecJsonReader(byte[] json) => _json = json;

    /// <summary>The spec, or null for a JSON null; a <see cref="SpecJsonException"/> says what is wrong where.</summary>
    internal static Spec? Read(byte[] json)
    {
        var self = new SpecJsonReader(json);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false });
        try
        {
            reader.Read();
            var spec = self.Object(ref reader, static (self, ref r, s, name) => self.SpecProperty(ref r, s, name), () => new Spec());
            // Nothing but whitespace may follow the document: the reader throws on anything else.
            while (reader.Read()) { }
            return spec;
        }
        catch (JsonException e) when (e is not SpecJsonException)
        {
            throw new SpecJsonException(SpecLoader.Malformed(self.Path(), e.LineNumber ?? 0, e.BytePositionInLine ?? 0, e.Message), e);
        }
    }

    /// <summary>
    /// A spec "hooks" object (null for a JSON null) where <paramref name="reader"/> is, for state.json, which keeps the
    /// spec's hooks; a <see cref="JsonException"/> says what is wrong, with a path from the hooks object.
    /// </summary>
    public static Hooks? ReadHooks(ref Utf8JsonReader reader) =>
        new SpecJsonReader([]).Object(ref reader, static (self, ref r, h, name) => self.HooksProperty(ref r, h, name), () => new Hooks());

    bool SpecProperty(ref Utf8JsonReader r, Spec s, string name)
    {
        switch (name)
        {
            case "ociVersion": s.OciVersion = String(ref r); break;
            case "process": s.Process = Object(ref r, static (self, ref r, p, name) => self.ProcessProperty(ref r, p, name), () => new Process()); break;
            case "root": s.Root = Object(ref r, static (self, ref r, o, name) => self.RootProperty(ref r, o, name), () => new Root()); break;
            case "hostname": s.Hostname = String(ref r); break;
            case "domainname": s.Domainname = String(ref r); break;
            case "mounts": s.Mounts = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, m, name) => self.MountProperty(ref r, m, name), () => new Mount())!); break;
            case "hooks": s.Hooks = Object(ref r, static (self, ref r, h, name) => self.HooksProperty(ref r, h, name), () => new Hooks()); break;
            case "annotations": s.Annotations = StringMap(ref r); break;
            case "linux": s.Linux = Object(ref r, static (self, ref r, l, name) => self.LinuxProperty(ref r, l, name), () => new Linux()); break;
            default: return false;
        }
        return true;
    }

    bool ProcessProperty(ref Utf8JsonReader r, Process p, string name)
    {
        switch (name)
        {
            case "terminal": p.Terminal = Bool(ref r); break;
            case "consoleSize": p.ConsoleSize = Object(ref r, static (self, ref r, b, name) => self.BoxProperty(ref r, b, name), () => new Box()); break;
            case "user": p.User = Object(ref r, static (self, ref r, u, name) => self.UserProperty(ref r, u, name), () => new User())!; break;
            case "args": p.Args = Strings(ref r); break;
            case "commandLine": p.CommandLine = String(ref r); break;
            case "env": p.Env = Strings(ref r); break;
            case "cwd": p.Cwd = String(ref r)!; break;
            case "capabilities": p.Capabilities = Object(ref r, static (self, ref r, c, name) => self.CapabilitiesProperty(ref r, c, name), () => new LinuxCapabilities()); break;
            case "rlimits": p.Rlimits = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, l, name) => self.RlimitProperty(ref r, l, name), () => new PosixRlimit())!); break;
            case "noNewPrivileges": p.NoNewPrivileges = Bool(ref r); break;
            case "apparmorProfile": p.ApparmorProfile = String(ref r); break;
            case "oomScoreAdj": p.OomScoreAdj = NullableInt32(ref r); break;
            case "selinuxLabel": p.SelinuxLabel = String(ref r); break;
            case "scheduler": p.Scheduler = Object(ref r, static (self, ref r, s, name) => self.SchedulerProperty(ref r, s, name), () => new Scheduler()); break;
            case "ioPriority": p.IoPriority = Object(ref r, static (self, ref r, i, name) => self.IoPriorityProperty(ref r, i, name), () => new IoPriority()); break;
            case "execCpuAffinity": p.ExecCpuAffinity = List(ref r, static (self, ref r) => self.Int32(ref r)); break;
            default: return false;
        }
        return true;
    }

    bool BoxProperty(ref Utf8JsonReader r, Box b, string name)
    {
        switch (name)
        {
            case "height": b.Height = UInt32(ref r); break;
            case "width": b.Width = UInt32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool UserProperty(ref Utf8JsonReader r, User u, string name)
    {
        switch (name)
        {
            case "uid": u.Uid = UInt32(ref r); break;
            case "gid": u.Gid = UInt32(ref r); break;
            case "umask": u.Umask = Nullable(ref r, UInt32Kind); break;
            case "additionalGids": u.AdditionalGids = List(ref r, static (self, ref r) => self.UInt32(ref r)); break;
            case "username": u.Username = String(ref r); break;
            default: return false;
        }
        return true;
    }

    bool CapabilitiesProperty(ref Utf8JsonReader r, LinuxCapabilities c, string name)
    {
        switch (name)
        {
            case "bounding": c.Bounding = Strings(ref r); break;
            case "effective": c.Effective = Strings(ref r); break;
            case "inheritable": c.Inheritable = Strings(ref r); break;
            case "permitted": c.Permitted = Strings(ref r); break;
            case "ambient": c.Ambient = Strings(ref r); break;
            default: return false;
        }
        return true;
    }

    bool RlimitProperty(ref Utf8JsonReader r, PosixRlimit l, string name)
    {
        switch (name)
        {
            case "type": l.Type = String(ref r)!; break;
            case "hard": l.Hard = UInt64(ref r); break;
            case "soft": l.Soft = UInt64(ref r); break;
            default: return false;
        }
        return true;
    }

    bool SchedulerProperty(ref Utf8JsonReader r, Scheduler s, string name)
    {
        switch (name)
        {
            case "policy": s.Policy = String(ref r)!; break;
            case "nice": s.Nice = NullableInt32(ref r); break;
            case "priority": s.Priority = NullableInt32(ref r); break;
            case "flags": s.Flags = Strings(ref r); break;
            case "runtime": s.Runtime = Nullable(ref r, UInt64Kind); break;
            case "deadline": s.Deadline = Nullable(ref r, UInt64Kind); break;
            case "period": s.Period = Nullable(ref r, UInt64Kind); break;
            default: return false;
        }
        return true;
    }

    bool IoPriorityProperty(ref Utf8JsonReader r, IoPriority i, string name)
    {
        switch (name)
        {
            case "class": i.Class = String(ref r)!; break;
            case "priority": i.Priority = Int32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool RootProperty(ref Utf8JsonReader r, Root o, string name)
    {
        switch (name)
        {
            case "path": o.Path = String(ref r)!; break;
            case "readonly": o.Readonly = Bool(ref r); break;
            default: return false;
        }
        return true;
    }

    bool MountProperty(ref Utf8JsonReader r, Mount m, string name)
    {
        switch (name)
        {
            case "destination": m.Destination = String(ref r)!; break;
            case "type": m.Type = String(ref r); break;
            case "source": m.Source = String(ref r); break;
            case "options": m.Options = Strings(ref r); break;
            case "uidMappings": m.UidMappings = IdMappings(ref r); break;
            case "gidMappings": m.GidMappings = IdMappings(ref r); break;
            default: return false;
        }
        return true;
    }

    bool HooksProperty(ref Utf8JsonReader r, Hooks h, string name)
    {
        switch (name)
        {
            case "prestart": h.Prestart = HookList(ref r); break;
            case "createRuntime": h.CreateRuntime = HookList(ref r); break;
            case "createContainer": h.CreateContainer = HookList(ref r); break;
            case "startContainer": h.StartContainer = HookList(ref r); break;
            case "poststart": h.Poststart = HookList(ref r); break;
            case "poststop": h.Poststop = HookList(ref r); break;
            default: return false;
        }
        return true;
    }

    List<Hook>? HookList(ref Utf8JsonReader r) =>
        List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, h, name) => self.HookProperty(ref r, h, name), () => new Hook())!);

    bool HookProperty(ref Utf8JsonReader r, Hook h, string name)
    {
        switch (name)
        {
            case "path": h.Path = String(ref r)!; break;
            case "args": h.Args = Strings(ref r); break;
            case "env": h.Env = Strings(ref r); break;
            case "timeout": h.Timeout = NullableInt32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool LinuxProperty(ref Utf8JsonReader r, Linux l, string name)
    {
        switch (name)
        {
            case "uidMappings": l.UidMappings = IdMappings(ref r); break;
            case "gidMappings": l.GidMappings = IdMappings(ref r); break;
            case "sysctl": l.Sysctl = StringMap(ref r); break;
            case "resources": l.Resources = Object(ref r, static (self, ref r, o, name) => self.ResourcesProperty(ref r, o, name), () => new LinuxResources()); break;
            case "cgroupsPath": l.CgroupsPath = String(ref r); break;
            case "namespaces": l.Namespaces = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, n, name) => self.NamespaceProperty(ref r, n, name), () => new LinuxNamespace())!); break;
            case "devices": l.Devices = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, d, name) => self.DeviceProperty(ref r, d, name), () => new LinuxDevice())!); break;
            case "seccomp": l.Seccomp = Object(ref r, static (self, ref r, s, name) => self.SeccompProperty(ref r, s, name), () => new LinuxSeccomp()); break;
            case "rootfsPropagation": l.RootfsPropagation = String(ref r); break;
            case "maskedPaths": l.MaskedPaths = Strings(ref r); break;
            case "readonlyPaths": l.ReadonlyPaths = Strings(ref r); break;
            case "mountLabel": l.MountLabel = String(ref r); break;
            case "intelRdt": l.IntelRdt = Object(ref r, static (self, ref r, i, name) => self.IntelRdtProperty(ref r, i, name), () => new LinuxIntelRdt()); break;
            case "personality": l.Personality = Object(ref r, static (self, ref r, p, name) => self.PersonalityProperty(ref r, p, name), () => new LinuxPersonality()); break;
            case "timeOffsets": l.TimeOffsets = Map(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, t, name) => self.TimeOffsetProperty(ref r, t, name), () => new LinuxTimeOffset())!); break;
            default: return false;
        }
        return true;
    }

    List<LinuxIdMapping>? IdMappings(ref Utf8JsonReader r) =>
        List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, m, name) => self.IdMappingProperty(ref r, m, name), () => new LinuxIdMapping())!);

    bool IdMappingProperty(ref Utf8JsonReader r, LinuxIdMapping m, string name)
    {
        switch (name)
        {
            case "containerID": m.ContainerId = UInt32(ref r); break;
            case "hostID": m.HostId = UInt32(ref r); break;
            case "size": m.Size = UInt32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool TimeOffsetProperty(ref Utf8JsonReader r, LinuxTimeOffset t, string name)
    {
        switch (name)
        {
            case "secs": t.Secs = Int64(ref r); break;
            case "nanosecs": t.Nanosecs = UInt32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool NamespaceProperty(ref Utf8JsonReader r, LinuxNamespace n, string name)
    {
        switch (name)
        {
            case "type": n.Type = String(ref r)!; break;
            case "path": n.Path = String(ref r); break;
            default: return false;
        }
        return true;
    }

    bool DeviceProperty(ref Utf8JsonReader r, LinuxDevice d, string name)
    {
        switch (name)
        {
            case "path": d.Path = String(ref r)!; break;
            case "type": d.Type = String(ref r)!; break;
            case "major": d.Major = Int64(ref r); break;
            case "minor": d.Minor = Int64(ref r); break;
            case "fileMode": d.FileMode = Nullable(ref r, UInt32Kind); break;
            case "uid": d.Uid = Nullable(ref r, UInt32Kind); break;
            case "gid": d.Gid = Nullable(ref r, UInt32Kind); break;
            default: return false;
        }
        return true;
    }

    bool ResourcesProperty(ref Utf8JsonReader r, LinuxResources o, string name)
    {
        switch (name)
        {
            case "devices": o.Devices = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, d, name) => self.DeviceCgroupProperty(ref r, d, name), () => new LinuxDeviceCgroup())!); break;
            case "memory": o.Memory = Object(ref r, static (self, ref r, m, name) => self.MemoryProperty(ref r, m, name), () => new LinuxMemory()); break;
            case "cpu": o.Cpu = Object(ref r, static (self, ref r, c, name) => self.CpuProperty(ref r, c, name), () => new LinuxCpu()); break;
            case "pids": o.Pids = Object(ref r, static (self, ref r, p, name) => self.PidsProperty(ref r, p, name), () => new LinuxPids()); break;
            case "blockIO": o.BlockIO = Object(ref r, static (self, ref r, b, name) => self.BlockIoProperty(ref r, b, name), () => new LinuxBlockIo()); break;
            case "hugepageLimits": o.HugepageLimits = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, h, name) => self.HugepageLimitProperty(ref r, h, name), () => new LinuxHugepageLimit())!); break;
            case "network": o.Network = Object(ref r, static (self, ref r, n, name) => self.NetworkProperty(ref r, n, name), () => new LinuxNetwork()); break;
            case "rdma": o.Rdma = Map(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, d, name) => self.RdmaProperty(ref r, d, name), () => new LinuxRdma())!); break;
            case "unified": o.Unified = StringMap(ref r); break;
            default: return false;
        }
        return true;
    }

    bool DeviceCgroupProperty(ref Utf8JsonReader r, LinuxDeviceCgroup d, string name)
    {
        switch (name)
        {
            case "allow": d.Allow = Bool(ref r); break;
            case "type": d.Type = String(ref r); break;
            case "major": d.Major = Nullable(ref r, Int64Kind); break;
            case "minor": d.Minor = Nullable(ref r, Int64Kind); break;
            case "access": d.Access = String(ref r); break;
            default: return false;
        }
        return true;
    }

    bool MemoryProperty(ref Utf8JsonReader r, LinuxMemory m, string name)
    {
        switch (name)
        {
            case "limit": m.Limit = Nullable(ref r, Int64Kind); break;
            case "reservation": m.Reservation = Nullable(ref r, Int64Kind); break;
            case "swap": m.Swap = Nullable(ref r, Int64Kind); break;
            case "kernel": m.Kernel = Nullable(ref r, Int64Kind); break;
            case "kernelTCP": m.KernelTCP = Nullable(ref r, Int64Kind); break;
            case "swappiness": m.Swappiness = Nullable(ref r, UInt64Kind); break;
            case "disableOOMKiller": m.DisableOOMKiller = NullableBool(ref r); break;
            case "useHierarchy": m.UseHierarchy = NullableBool(ref r); break;
            case "checkBeforeUpdate": m.CheckBeforeUpdate = NullableBool(ref r); break;
            default: return false;
        }
        return true;
    }

    bool CpuProperty(ref Utf8JsonReader r, LinuxCpu c, string name)
    {
        switch (name)
        {
            case "shares": c.Shares = Nullable(ref r, UInt64Kind); break;
            case "quota": c.Quota = Nullable(ref r, Int64Kind); break;
            case "burst": c.Burst = Nullable(ref r, UInt64Kind); break;
            case "period": c.Period = Nullable(ref r, UInt64Kind); break;
            case "realtimeRuntime": c.RealtimeRuntime = Nullable(ref r, Int64Kind); break;
            case "realtimePeriod": c.RealtimePeriod = Nullable(ref r, UInt64Kind); break;
            case "cpus": c.Cpus = String(ref r); break;
            case "mems": c.Mems = String(ref r); break;
            case "idle": c.Idle = Nullable(ref r, Int64Kind); break;
            default: return false;
        }
        return true;
    }

    bool PidsProperty(ref Utf8JsonReader r, LinuxPids p, string name)
    {
        if (name != "limit") return false;
        p.Limit = Int64(ref r);
        return true;
    }

    bool BlockIoProperty(ref Utf8JsonReader r, LinuxBlockIo b, string name)
    {
        switch (name)
        {
            case "weight": b.Weight = Nullable(ref r, UInt16Kind); break;
            case "leafWeight": b.LeafWeight = Nullable(ref r, UInt16Kind); break;
            case "weightDevice": b.WeightDevice = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, w, name) => self.WeightDeviceProperty(ref r, w, name), () => new LinuxWeightDevice())!); break;
            case "throttleReadBpsDevice": b.ThrottleReadBpsDevice = ThrottleDevices(ref r); break;
            case "throttleWriteBpsDevice": b.ThrottleWriteBpsDevice = ThrottleDevices(ref r); break;
            case "throttleReadIOPSDevice": b.ThrottleReadIOPSDevice = ThrottleDevices(ref r); break;
            case "throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice = ThrottleDevices(ref r); break;
            default: return false;
        }
        return true;
    }

    bool WeightDeviceProperty(ref Utf8JsonReader r, LinuxWeightDevice w, string name)
    {
        switch (name)
        {
            case "major": w.Major = Int64(ref r); break;
            case "minor": w.Minor = Int64(ref r); break;
            case "weight": w.Weight = Nullable(ref r, UInt16Kind); break;
            case "leafWeight": w.LeafWeight = Nullable(ref r, UInt16Kind); break;
            default: return false;
        }
        return true;
    }

    List<LinuxThrottleDevice>? ThrottleDevices(ref Utf8JsonReader r) =>
        List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, t, name) => self.ThrottleDeviceProperty(ref r, t, name), () => new LinuxThrottleDevice())!);

    bool ThrottleDeviceProperty(ref Utf8JsonReader r, LinuxThrottleDevice t, string name)
    {
        switch (name)
        {
            case "major": t.Major = Int64(ref r); break;
            case "minor": t.Minor = Int64(ref r); break;
            case "rate": t.Rate = UInt64(ref r); break;
            default: return false;
        }
        return true;
    }

    bool HugepageLimitProperty(ref Utf8JsonReader r, LinuxHugepageLimit h, string name)
    {
        switch (name)
        {
            case "pageSize": h.PageSize = String(ref r)!; break;
            case "limit": h.Limit = UInt64(ref r); break;
            default: return false;
        }
        return true;
    }

    bool NetworkProperty(ref Utf8JsonReader r, LinuxNetwork n, string name)
    {
        switch (name)
        {
            case "classID": n.ClassID = Nullable(ref r, UInt32Kind); break;
            case "priorities": n.Priorities = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, p, name) => self.InterfacePriorityProperty(ref r, p, name), () => new LinuxInterfacePriority())!); break;
            default: return false;
        }
        return true;
    }

    bool InterfacePriorityProperty(ref Utf8JsonReader r, LinuxInterfacePriority p, string name)
    {
        switch (name)
        {
            case "name": p.Name = String(ref r)!; break;
            case "priority": p.Priority = UInt32(ref r); break;
            default: return false;
        }
        return true;
    }

    bool RdmaProperty(ref Utf8JsonReader r, LinuxRdma d, string name)
    {
        switch (name)
        {
            case "hcaHandles": d.HcaHandles = Nullable(ref r, UInt32Kind); break;
            case "hcaObjects": d.HcaObjects = Nullable(ref r, UInt32Kind); break;
            default: return false;
        }
        return true;
    }

    bool SeccompProperty(ref Utf8JsonReader r, LinuxSeccomp s, string name)
    {
        switch (name)
        {
            case "defaultAction": s.DefaultAction = String(ref r); break;
            case "defaultErrnoRet": s.DefaultErrnoRet = Nullable(ref r, UInt32Kind); break;
            case "architectures": s.Architectures = Strings(ref r); break;
            case "flags": s.Flags = Strings(ref r); break;
            case "listenerPath": s.ListenerPath = String(ref r); break;
            case "listenerMetadata": s.ListenerMetadata = String(ref r); break;
            case "syscalls": s.Syscalls = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, c, name) => self.SyscallProperty(ref r, c, name), () => new LinuxSyscall())!); break;
            default: return false;
        }
        return true;
    }

    bool SyscallProperty(ref Utf8JsonReader r, LinuxSyscall c, string name)
    {
        switch (name)
        {
            case "names": c.Names = Strings(ref r)!; break;
            case "action": c.Action = String(ref r)!; break;
            case "errnoRet": c.ErrnoRet = Nullable(ref r, UInt32Kind); break;
            case "args": c.Args = List(ref r, static (self, ref r) => self.Object(ref r, static (self, ref r, a, name) => self.SeccompArgProperty(ref r, a, name), () => new LinuxSeccompArg())!); break;
            default: return false;
        }
        return true;
    }

    bool SeccompArgProperty(ref Utf8JsonReader r, LinuxSeccompArg a, string name)
    {
        switch (name)
        {
            case "index": a.Index = UInt32(ref r); break;
            case "value": a.Value = UInt64(ref r); break;
            case "valueTwo": a.ValueTwo = UInt64(ref r); break;
            case "op": a.Op = String(ref r)!; break;
            default: return false;
        }
        return true;
    }

    bool IntelRdtProperty(ref Utf8JsonReader r, LinuxIntelRdt i, string name)
    {
        switch (name)
        {
            case "closID": i.ClosID = String(ref r); break;
            case "l3CacheSchema": i.L3CacheSchema = String(ref r); break;
            case "memBwSchema": i.MemBwSchema = String(ref r); break;
            default: return false;
        }
        return true;
    }

    bool PersonalityProperty(ref Utf8JsonReader r, LinuxPersonality p, string name)
    {
        switch (name)
        {
            case "domain": p.Domain = String(ref r)!; break;
            case "flags": p.Flags = Strings(ref r); break;
            default: return false;
        }
        return true;
    }

    // ---- The shapes: each reads the value the reader is on and leaves the reader on its last token. ----

    delegate bool PropertyReader<T>(SpecJsonReader self, ref Utf8JsonReader r, T target, string name);
    delegate T ValueReader<T>(SpecJsonReader self, ref Utf8JsonReader r);

    /// <summary>An object of type T (null for a JSON null); properties the type does not have are skipped.</summary>
    T? Object<T>(ref Utf8JsonReader r, PropertyReader<T> property, Func<T> create) where T : class
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject) throw WrongType(ref r, "an object");
        var target = create();
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            // A name that is no valid UTF-16 makes the object the wrong type, for the serializer.
            string name = Text(ref r, "an object");
            _path.Add((name, 0));
            r.Read();
            if (!property(this, ref r, target, name)) r.Skip();
            _path.RemoveAt(_path.Count - 1);
        }
        return target;
    }

    List<T>? List<T>(ref Utf8JsonReader r, ValueReader<T> item)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw WrongType(ref r, "an array");
        var list = new List<T>();
        _path.Add((null, 0));
        // The index is the next item's before it is read, as the serializer counts ("[1]" for a comma too many after one).
        while (SetIndex(list.Count) && r.Read() && r.TokenType != JsonTokenType.EndArray)
            list.Add(item(this, ref r));
        _path.RemoveAt(_path.Count - 1);
        return list;
    }

    bool SetIndex(int index)
    {
        _path[^1] = (null, index);
        return true;
    }

    Dictionary<string, T>? Map<T>(ref Utf8JsonReader r, ValueReader<T> value)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartObject) throw WrongType(ref r, "an object (a map)");
        var map = new Dictionary<string, T>();
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            string key = Text(ref r, "a string");
            _path.Add((key, 0));
            r.Read();
            map[key] = value(this, ref r);
            _path.RemoveAt(_path.Count - 1);
        }
        return map;
    }

    List<string>? Strings(ref Utf8JsonReader r) => List(ref r, static (self, ref r) => self.String(ref r)!);
    Dictionary<string, string>? StringMap(ref Utf8JsonReader r) => Map(ref r, static (self, ref r) => self.String(ref r)!);

    string? String(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => Text(ref r, "a string"),
        _ => throw WrongType(ref r, "a string"),
    };

    bool Bool(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw WrongType(ref r, "true or false"),
    };

    bool? NullableBool(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : Bool(ref r);

    // Numbers: a JSON number token that fits the type exactly (no fraction, no exponent, in range), as the serializer.
    delegate bool NumberParser<T>(ref Utf8JsonReader r, out T value);
    static readonly (NumberParser<uint> Parse, string Expected) UInt32Kind = (static (ref r, out v) => r.TryGetUInt32(out v), "an integer from 0 to 4294967295");
    static readonly (NumberParser<ulong> Parse, string Expected) UInt64Kind = (static (ref r, out v) => r.TryGetUInt64(out v), "a non-negative integer");
    static readonly (NumberParser<ushort> Parse, string Expected) UInt16Kind = (static (ref r, out v) => r.TryGetUInt16(out v), "an integer from 0 to 65535");
    static readonly (NumberParser<int> Parse, string Expected) Int32Kind = (static (ref r, out v) => r.TryGetInt32(out v), "a 32-bit integer");
    static readonly (NumberParser<long> Parse, string Expected) Int64Kind = (static (ref r, out v) => r.TryGetInt64(out v), "a 64-bit integer");

    T Number<T>(ref Utf8JsonReader r, (NumberParser<T> Parse, string Expected) kind) =>
        r.TokenType == JsonTokenType.Number && kind.Parse(ref r, out T value) ? value : throw WrongType(ref r, kind.Expected);

    T? Nullable<T>(ref Utf8JsonReader r, (NumberParser<T> Parse, string Expected) kind) where T : struct =>
        r.TokenType == JsonTokenType.Null ? null : Number(ref r, kind);

    uint UInt32(ref Utf8JsonReader r) => Number(ref r, UInt32Kind);
    ulong UInt64(ref Utf8JsonReader r) => Number(ref r, UInt64Kind);
    int Int32(ref Utf8JsonReader r) => Number(ref r, Int32Kind);
    long Int64(ref Utf8JsonReader r) => Number(ref r, Int64Kind);
    int? NullableInt32(ref Utf8JsonReader r) => Nullable(ref r, Int32Kind);

    /// <summary>
    /// A string token's text (a value or a name); an escape that is no valid UTF-16 (a lone surrogate) makes what
    /// holds it <paramref name="expected"/> of the wrong type, as the serializer says.
    /// </summary>
    string Text(ref Utf8JsonReader r, string expected)
    {
        try
        {
            return r.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw WrongType(ref r, expected);
        }
    }

    SpecJsonException WrongType(ref Utf8JsonReader r, string expected)
    {
        var (line, column) = Position(ref r);
        return new SpecJsonException(SpecLoader.WrongType(Path(), line, column, expected));
    }

    /// <summary>0-based line and byte in line just past the current token, where the serializer reports a value it could not convert.</summary>
    (long Line, long Column) Position(ref Utf8JsonReader r)
    {
        // Reading hooks out of another document (ReadHooks), the reader does not know that text: bytes from its start.
        if (r.BytesConsumed > _json.Length) return (0, r.BytesConsumed);
        var before = _json.AsSpan(0, (int)r.BytesConsumed);
        int lastNewline = before.LastIndexOf((byte)'\n');
        return (before.Count((byte)'\n'), before.Length - (lastNewline + 1));
    }

    /// <summary>The path the way System.Text.Json writes it: $.a.b[2], and ['odd name'] for names with special characters.</summary>
    string Path()
    {
        var path = new StringBuilder("$");
        foreach (var (name, index) in _path)
        {
            if (name is null) path.Append('[').Append(index).Append(']');
            else if (name.AsSpan().IndexOfAny(".[]()'\"/ \t\n\r\f\b\\\u0085\u2028\u2029") >= 0) path.Append("['").Append(name).Append("']");
            else path.Append('.').Append(name);
        }
        return path.ToString();
    }
}

/// <summary>A config.json that is not JSON or not the spec's shape: the message is the sentence, without the file name.</summary>
internal sealed class SpecJsonException(string message, Exception? inner = null) : JsonException(message, inner);
