using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Berth.Network.Netlink;

/// <summary>One netlink request being built: the header, a fixed family header, then attributes, each padded to
/// netlink's 4-byte alignment. Nested attributes are opened and closed around their contents.</summary>
sealed class NetlinkRequest
{
    byte[] _buffer = new byte[512];
    int _length;

    public NetlinkRequest(ushort type, ushort flags) => Put(new NlMsgHdr { Type = type, Flags = flags });

    public void Put<T>(in T value) where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        MemoryMarshal.Write(Reserve(size), in value);
    }

    public void Attribute(ushort type, ReadOnlySpan<byte> value)
    {
        Put(new RtAttr { Length = checked((ushort)(Unsafe.SizeOf<RtAttr>() + value.Length)), Type = type });
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>A string attribute: UTF-8 with its terminating NUL, as the kernel's NLA_STRING names expect.</summary>
    public void Attribute(ushort type, string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        Attribute(type, bytes);
    }

    public void Attribute(ushort type, uint value) => Attribute(type, MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in value)));

    /// <summary>Opens a nested attribute; <see cref="EndNested"/> with the returned offset sets its length.</summary>
    public int BeginNested(ushort type)
    {
        var offset = _length;
        Put(new RtAttr { Type = type });
        return offset;
    }

    public void EndNested(int offset) =>
        MemoryMarshal.Write(_buffer.AsSpan(offset), new RtAttr
        {
            Length = checked((ushort)(_length - offset)),
            Type = MemoryMarshal.Read<RtAttr>(_buffer.AsSpan(offset)).Type,
        });

    /// <summary>The finished message with its length and sequence number filled in.</summary>
    public ReadOnlySpan<byte> Finish(uint sequence)
    {
        var header = MemoryMarshal.Read<NlMsgHdr>(_buffer);
        header.Length = (uint)_length;
        header.Sequence = sequence;
        MemoryMarshal.Write(_buffer, in header);
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>Room for <paramref name="size"/> bytes, zeroed, with the length advanced past their padding.</summary>
    Span<byte> Reserve(int size)
    {
        var padded = Nl.Align(size);
        if (_length + padded > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + padded));
        var room = _buffer.AsSpan(_length, padded);
        room.Clear();
        _length += padded;
        return room[..size];
    }
}
