using System.Runtime.InteropServices;

namespace HvIommu.Actors.Cli;

/// <summary>
/// What kind of file system entry a path names once symbolic links are followed: the check that keeps an output
/// from replacing a device, a FIFO or a socket (writing a report to <c>/dev/null</c> as root would otherwise rename
/// a regular file over the device node). .NET's <see cref="FileSystemInfo"/> reports every non-directory as a plain
/// file, so this asks the runtime's own native shim (<c>SystemNative_Stat</c> of libSystem.Native, the call behind
/// <see cref="File.Exists"/>) for the mode's file-type bits.
/// </summary>
internal static class FileKind
{
    private const int TypeMask = 0xF000, Regular = 0x8000, Directory = 0x4000;

    /// <summary>The runtime's stat, following links; its status record begins with a flags word and the st_mode word
    /// (PAL FileStatus). The buffer is far larger than the record.</summary>
    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = true)]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] status);

    /// <summary>
    /// A description such as "a character device" when <paramref name="path"/> exists and is neither a regular file
    /// nor a directory; null when it is one of those, does not exist, or its kind cannot be read (not on Unix).
    /// </summary>
    public static string? Special(string path)
    {
        if (OperatingSystem.IsWindows())
            return null;
        var status = new byte[1024];
        try
        {
            if (Stat(path, status) != 0)
                return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return (BitConverter.ToInt32(status, 4) & TypeMask) switch
        {
            Regular or Directory => null,
            0x2000 => "a character device",
            0x6000 => "a block device",
            0x1000 => "a FIFO",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }
}
