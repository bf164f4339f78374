import CSystemShims
import Foundation

/// Which file systems keep a file's change time as the kernel's own (issue 28): only there may an unchanged stat
/// (size, inode, modification and change times) stand for unchanged bytes. FUSE mounts (sshfs, rclone, s3fs), SMB
/// and NFS shares and FAT file systems may report a change time that a write did not move, or cache attributes, so
/// a records folder on one of them is always read.
enum LocalFileSystem {
    /// ext2/3/4, XFS, Btrfs, tmpfs, ZFS, F2FS and overlayfs (statfs's f_type).
    static let keepingChangeTimes: Set<Int> = [
        0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x2FC1_2FC1, 0xF2F5_2010, 0x794C_7630,
    ]

    /// Whether `path` lies on a file system in `keepingChangeTimes`; false when that cannot be told.
    static func changeTimesAreKept(_ path: String) -> Bool {
        let type = cgsys_fs_type(path)
        return type >= 0 && keepingChangeTimes.contains(Int(type))
    }
}
