using System.Buffers.Binary;
using System.Text;
using Berth.Runtime.Configs;

namespace Berth.Runtime.Init;

/// <summary>
/// The init channel's messages as compact binary. Both ends are the same binary (init runs from the runtime's own
/// sealed copy), so no format has to outlive a build; the version byte only catches a mismatch. Binary, not JSON:
/// System.Text.Json builds its metadata for every type of a graph on first use, through AOT reflection, and in
/// `init` that was about a quarter of its CPU for a `run` of /bin/true; this codec builds nothing.
/// Every field of <see cref="ContainerConfig"/> that is not [JsonIgnore] (what init needs) crosses: a test
/// compares the config's JSON before and after the trip, so a field added to the config and not here fails it.
/// </summary>
public static class InitWire
{
    const byte Version = 1;
    const byte RequestTag = (byte)'Q', ReportTag = (byte)'R';

    public static byte[] Encode(InitRequest r)
    {
        var w = new Writer(RequestTag);
        WriteConfig(w, r.Config);
        w.Bool(r.ConsoleSize is not null);
        if (r.ConsoleSize is { } size) w.List(size, (w, v) => w.U64(v));
        w.Str(r.Bundle); w.Str(r.Id);
        w.Bool(r.NoPivot); w.Bool(r.NewSessionKeyring);
        w.I64(r.FifoFd); w.I64(r.PreserveFds); w.I64(r.ConsoleSocketFd);
        w.List(r.Cgroups, (w, c) => { w.Str(c.Name); w.Str(c.HostPath); w.Bool(c.IsV2); w.Str(c.MountOptions); });
        w.Bool(r.Hooks);
        w.Bool(r.Seccomp is not null);
        if (r.Seccomp is { } s) { w.Bytes(s.Instructions); w.U64(s.Flags); }
        w.I64(r.SeccompListenerFd);
        w.Bool(r.NewCgroupNamespace); w.Bool(r.Debug);
        w.List(r.BindSourceFds, (w, fd) => w.I64(fd));
        return w.ToArray();
    }

    public static InitRequest DecodeRequest(byte[] message)
    {
        var r = new Reader(message, RequestTag);
        var config = ReadConfig(r);
        ushort[]? consoleSize = r.Bool() ? [.. r.List(r => checked((ushort)r.U64()))] : null;
        var request = new InitRequest
        {
            Config = config,
            ConsoleSize = consoleSize,
            Bundle = r.Str(), Id = r.Str(),
            NoPivot = r.Bool(), NewSessionKeyring = r.Bool(),
            FifoFd = r.Int(), PreserveFds = r.Int(), ConsoleSocketFd = r.Int(),
            Cgroups = r.List(r => new Rootfs.CgroupMountSource(r.Str(), r.Str(), r.Bool(), r.Str())),
            Hooks = r.Bool(),
            Seccomp = r.Bool() ? new SeccompProgram { Instructions = r.Bytes(), Flags = checked((uint)r.U64()) } : null,
            SeccompListenerFd = r.Int(),
            NewCgroupNamespace = r.Bool(), Debug = r.Bool(),
            BindSourceFds = r.List(r => r.Int()),
        };
        r.End();
        return request;
    }

    public static byte[] Encode(InitReport report)
    {
        var w = new Writer(ReportTag);
        w.Str(report.Type);
        w.NullableStr(report.Message);
        w.Bool(report.State is not null);
        if (report.State is { } s)
        {
            w.Str(s.OciVersion); w.Str(s.Id); w.Str(s.Status); w.I64(s.Pid); w.Str(s.Bundle); w.NullableStr(s.Rootfs);
            w.Bool(s.Created is not null);
            if (s.Created is { } created) { w.I64(created.Ticks); w.I64((long)created.Offset.TotalMinutes); }
            w.NullableStr(s.Owner);
            WriteMap(w, s.Annotations);
        }
        return w.ToArray();
    }

    public static InitReport DecodeReport(byte[] message)
    {
        var r = new Reader(message, ReportTag);
        var report = new InitReport
        {
            Type = r.Str(),
            Message = r.NullableStr(),
            State = r.Bool()
                ? new Oci.State
                {
                    OciVersion = r.Str(), Id = r.Str(), Status = r.Str(), Pid = r.Int(), Bundle = r.Str(), Rootfs = r.NullableStr(),
                    Created = r.Bool() ? new DateTimeOffset(r.I64(), TimeSpan.FromMinutes(r.I64())) : null,
                    Owner = r.NullableStr(),
                    Annotations = ReadMap(r),
                }
                : null,
        };
        r.End();
        return report;
    }

    static void WriteConfig(Writer w, ContainerConfig c)
    {
        w.Str(c.Rootfs); w.Bool(c.ReadonlyRootfs); w.NullableStr(c.Hostname); w.NullableStr(c.Domainname);
        w.List(c.Namespaces, (w, n) => { w.U64((ulong)n.Kind); w.NullableStr(n.Path); });
        w.List(c.UidMappings, WriteIdMap);
        w.List(c.GidMappings, WriteIdMap);
        w.List(c.Mounts, (w, m) =>
        {
            w.Str(m.Destination); w.Str(m.Type); w.Str(m.Source); w.U64(m.Flags); w.U64(m.ClearFlags);
            w.List(m.Propagation, (w, p) => w.U64(p));
            w.Str(m.Data); w.U64(m.RecAttrSet); w.U64(m.RecAttrClr); w.Bool(m.CopyUp);
        });
        w.U64(c.RootfsPropagation);
        w.List(c.Devices, (w, d) => { w.Str(d.Path); w.U64(d.Type); w.I64(d.Major); w.I64(d.Minor); w.U64(d.FileMode); w.U64(d.Uid); w.U64(d.Gid); });
        w.List(c.MaskedPaths, (w, p) => w.Str(p));
        w.List(c.ReadonlyPaths, (w, p) => w.Str(p));
        WriteMap(w, c.Sysctl);
        w.List(c.TimeOffsets.ToList(), (w, t) => { w.Str(t.Key); w.I64(t.Value.Secs); w.U64(t.Value.Nanosecs); });
        w.NullableStr(c.CgroupsPath);
        var p = c.Process;
        w.List(p.Args, (w, a) => w.Str(a));
        w.List(p.Env, (w, e) => w.Str(e));
        w.Str(p.Cwd); w.U64(p.Uid); w.U64(p.Gid);
        w.Bool(p.Umask is not null); w.U64(p.Umask ?? 0);
        w.List(p.AdditionalGids, (w, g) => w.U64(g));
        w.Bool(p.Capabilities is not null);
        if (p.Capabilities is { } caps) { w.U64(caps.Bounding); w.U64(caps.Effective); w.U64(caps.Inheritable); w.U64(caps.Permitted); w.U64(caps.Ambient); }
        w.List(p.Rlimits, (w, l) => { w.Str(l.Name); w.I64(l.Resource); w.U64(l.Soft); w.U64(l.Hard); });
        w.Bool(p.NoNewPrivileges);
        w.Bool(p.OomScoreAdj is not null); w.I64(p.OomScoreAdj ?? 0);
        w.Bool(p.Terminal);
        w.Str(c.Bundle);
        w.Bool(c.Hooks is not null);
        if (c.Hooks is { } h)
        {
            foreach (var list in (List<Oci.Hook>?[])[h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop])
            {
                w.Bool(list is not null);
                if (list is not null) w.List(list, WriteHook);
            }
        }
    }

    static ContainerConfig ReadConfig(Reader r)
    {
        string rootfs = r.Str();
        bool readonlyRootfs = r.Bool();
        string? hostname = r.NullableStr(), domainname = r.NullableStr();
        var namespaces = r.List(r => new NamespaceConfig(checked((NamespaceKind)r.Int()), r.NullableStr()));
        var uidMappings = r.List(ReadIdMap);
        var gidMappings = r.List(ReadIdMap);
        var mounts = r.List(r => new MountConfig
        {
            Destination = r.Str(), Type = r.Str(), Source = r.Str(), Flags = r.U64(), ClearFlags = r.U64(),
            Propagation = r.List(r => r.U64()),
            Data = r.Str(), RecAttrSet = r.U64(), RecAttrClr = r.U64(), CopyUp = r.Bool(),
        });
        ulong rootfsPropagation = r.U64();
        var devices = r.List(r => new DeviceConfig(r.Str(), checked((char)r.U64()), r.I64(), r.I64(), r.UInt(), r.UInt(), r.UInt()));
        var masked = r.List(r => r.Str());
        var readonlyPaths = r.List(r => r.Str());
        var sysctl = ReadMap(r) ?? [];
        var timeOffsets = new Dictionary<string, TimeOffset>();
        foreach (var (key, offset) in r.List(r => (r.Str(), new TimeOffset(r.I64(), r.UInt())))) timeOffsets[key] = offset;
        string? cgroupsPath = r.NullableStr();
        var process = new ProcessConfig
        {
            Args = r.List(r => r.Str()),
            Env = r.List(r => r.Str()),
            Cwd = r.Str(), Uid = r.UInt(), Gid = r.UInt(),
            Umask = r.Bool() ? r.UInt() : Skip(r.U64()),
            AdditionalGids = r.List(r => r.UInt()),
            Capabilities = r.Bool() ? new CapabilitySet(r.U64(), r.U64(), r.U64(), r.U64(), r.U64()) : null,
            Rlimits = r.List(r => new RlimitConfig(r.Str(), r.Int(), r.U64(), r.U64())),
            NoNewPrivileges = r.Bool(),
            OomScoreAdj = r.Bool() ? r.Int() : Skip(r.I64()),
            Terminal = r.Bool(),
        };
        string bundle = r.Str();
        Oci.Hooks? hooks = null;
        if (r.Bool())
        {
            List<Oci.Hook>? Next() => r.Bool() ? r.List(ReadHook) : null;
            hooks = new Oci.Hooks
            {
                Prestart = Next(), CreateRuntime = Next(), CreateContainer = Next(),
                StartContainer = Next(), Poststart = Next(), Poststop = Next(),
            };
        }
        return new ContainerConfig
        {
            Rootfs = rootfs, ReadonlyRootfs = readonlyRootfs, Hostname = hostname, Domainname = domainname,
            Namespaces = namespaces, UidMappings = uidMappings, GidMappings = gidMappings, Mounts = mounts,
            RootfsPropagation = rootfsPropagation, Devices = devices, MaskedPaths = masked, ReadonlyPaths = readonlyPaths,
            Sysctl = sysctl, TimeOffsets = timeOffsets, CgroupsPath = cgroupsPath, Process = process, Bundle = bundle,
            Hooks = hooks,
        };
    }

    /// <summary>The placeholder of an absent nullable number: read (the writer always writes one), then dropped.</summary>
    static uint? Skip(ulong _) => null;
    static int? Skip(long _) => null;

    static void WriteIdMap(Writer w, IdMap m) { w.U64(m.ContainerId); w.U64(m.HostId); w.U64(m.Size); }
    static IdMap ReadIdMap(Reader r) => new(r.UInt(), r.UInt(), r.UInt());

    static void WriteHook(Writer w, Oci.Hook h)
    {
        w.Str(h.Path);
        w.Bool(h.Args is not null); if (h.Args is not null) w.List(h.Args, (w, a) => w.Str(a));
        w.Bool(h.Env is not null); if (h.Env is not null) w.List(h.Env, (w, e) => w.Str(e));
        w.Bool(h.Timeout is not null); w.I64(h.Timeout ?? 0);
    }

    static Oci.Hook ReadHook(Reader r) => new()
    {
        Path = r.Str(),
        Args = r.Bool() ? r.List(r => r.Str()) : null,
        Env = r.Bool() ? r.List(r => r.Str()) : null,
        Timeout = r.Bool() ? r.Int() : Skip(r.I64()),
    };

    static void WriteMap(Writer w, IReadOnlyDictionary<string, string>? map)
    {
        w.Bool(map is not null);
        if (map is not null) w.List(map.ToList(), (w, e) => { w.Str(e.Key); w.Str(e.Value); });
    }

    static Dictionary<string, string>? ReadMap(Reader r)
    {
        if (!r.Bool()) return null;
        var map = new Dictionary<string, string>();
        foreach (var (key, value) in r.List(r => (r.Str(), r.Str()))) map[key] = value;
        return map;
    }

    /// <summary>Little-endian numbers (all integers as 8 bytes), strings as UTF-8 with a length, lists with a count.</summary>
    sealed class Writer
    {
        readonly MemoryStream _out = new(1024);

        public Writer(byte tag)
        {
            _out.WriteByte(Version);
            _out.WriteByte(tag);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _out.Write(b);
        }

        public void I64(long v) => U64((ulong)v);
        public void Bool(bool v) => _out.WriteByte(v ? (byte)1 : (byte)0);

        public void Bytes(ReadOnlySpan<byte> v)
        {
            U64((ulong)v.Length);
            _out.Write(v);
        }

        public void Str(string v) => Bytes(Encoding.UTF8.GetBytes(v));

        public void NullableStr(string? v)
        {
            Bool(v is not null);
            if (v is not null) Str(v);
        }

        public void List<T>(IReadOnlyList<T> items, Action<Writer, T> write)
        {
            U64((ulong)items.Count);
            foreach (var item in items) write(this, item);
        }

        public byte[] ToArray() => _out.ToArray();
    }

    /// <summary>Reads what <see cref="Writer"/> wrote; a message cut short or with bytes left over is refused.</summary>
    sealed class Reader
    {
        readonly byte[] _in;
        int _at;

        public Reader(byte[] message, byte tag)
        {
            _in = message;
            if (message.Length < 2 || message[0] != Version)
                throw new InvalidDataException($"init channel: message format {(message.Length > 0 ? message[0] : 0)}, expected {Version} (runtime and init from different builds?)");
            if (message[1] != tag)
                throw new InvalidDataException($"init channel: expected a {(tag == RequestTag ? "request" : "report")}, got message kind {message[1]}");
            _at = 2;
        }

        ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > _in.Length - _at) throw new InvalidDataException("init channel: message cut short");
            var span = _in.AsSpan(_at, n);
            _at += n;
            return span;
        }

        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        public long I64() => (long)U64();
        public int Int() => checked((int)I64());
        public uint UInt() => checked((uint)U64());

        public bool Bool() => Take(1)[0] switch
        {
            0 => false,
            1 => true,
            var b => throw new InvalidDataException($"init channel: {b} is not a boolean"),
        };

        int Length() => U64() is var n && n <= int.MaxValue ? (int)n : throw new InvalidDataException("init channel: message cut short");
        public byte[] Bytes() => Take(Length()).ToArray();
        public string Str() => Encoding.UTF8.GetString(Take(Length()));
        public string? NullableStr() => Bool() ? Str() : null;

        public List<T> List<T>(Func<Reader, T> read)
        {
            int count = Length();
            // Each item takes at least a byte: a huge count is a corrupt message, not a reason to allocate.
            if (count > _in.Length - _at) throw new InvalidDataException("init channel: message cut short");
            var items = new List<T>(count);
            for (int i = 0; i < count; i++) items.Add(read(this));
            return items;
        }

        public void End()
        {
            if (_at != _in.Length) throw new InvalidDataException($"init channel: {_in.Length - _at} unexpected bytes at the end of a message");
        }
    }
}
