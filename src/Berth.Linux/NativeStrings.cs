using System.Runtime.InteropServices;
using System.Text;

namespace Berth.Linux;

/// <summary>
/// NUL-terminated UTF-8 strings and NULL-terminated arrays of them in native memory, for execve-style calls.
/// Allocated before a clone or an exec, because the code that reads them may not allocate.
/// </summary>
public sealed unsafe class NativeStrings : IDisposable
{
    readonly List<nint> _owned = [];

    public byte* String(string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        var s = (byte*)NativeMemory.Alloc((nuint)n + 1);
        _owned.Add((nint)s);
        Encoding.UTF8.GetBytes(value, new Span<byte>(s, n));
        s[n] = 0;
        return s;
    }

    public byte** Array(IReadOnlyList<string> values)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(nint));
        _owned.Add((nint)array);
        for (int i = 0; i < values.Count; i++) array[i] = String(values[i]);
        return array;
    }

    public void Dispose()
    {
        foreach (var p in _owned) NativeMemory.Free((void*)p);
        _owned.Clear();
    }
}
