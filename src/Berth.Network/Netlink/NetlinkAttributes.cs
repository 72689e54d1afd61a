using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Berth.Network.Netlink;

/// <summary>Reads the attributes that follow a reply's fixed family header.</summary>
static class NetlinkAttributes
{
    /// <summary>The value of the first attribute of <paramref name="type"/> in <paramref name="attributes"/>.</summary>
    public static bool TryFind(ReadOnlySpan<byte> attributes, ushort type, out ReadOnlySpan<byte> value)
    {
        var headerSize = Unsafe.SizeOf<RtAttr>();
        while (attributes.Length >= headerSize)
        {
            var attribute = MemoryMarshal.Read<RtAttr>(attributes);
            if (attribute.Length < headerSize || attribute.Length > attributes.Length) break;
            if ((attribute.Type & Nl.NLA_TYPE_MASK) == type)
            {
                value = attributes[headerSize..attribute.Length];
                return true;
            }
            attributes = attributes[Math.Min(Nl.Align(attribute.Length), attributes.Length)..];
        }
        value = default;
        return false;
    }

    /// <summary>A NUL-terminated string attribute's text.</summary>
    public static string Text(ReadOnlySpan<byte> value)
    {
        var end = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
    }
}
