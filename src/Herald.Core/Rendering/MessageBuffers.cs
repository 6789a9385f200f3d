using System.Buffers;

namespace Herald.Rendering;

/// <summary>
/// Buffers that hold a whole message (50-150 kB) for the length of one SMTP transaction. They are held across the
/// network wait by every connection at once (32-64), more than <see cref="ArrayPool{T}.Shared"/> keeps per size, so
/// with it most rents missed and allocated on the large object heap; this pool keeps enough of them.
/// </summary>
internal static class MessageBuffers
{
    public static ArrayPool<byte> Pool { get; } = ArrayPool<byte>.Create(maxArrayLength: 8 * 1024 * 1024, maxArraysPerBucket: 256);
}
