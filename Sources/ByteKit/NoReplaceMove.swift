internal import CSystemShims
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a folder's filesystem lets ConsentGate move a file without replacing anything (issue 31).
public enum MoveMode: String, Sendable, Codable {
    /// renameat2(RENAME_NOREPLACE): the kernel refuses at once when the new name is taken.
    case noReplace = "rename-noreplace"
    /// The filesystem rejects that flag (Linux's NFS client, SMB through FUSE, most FUSE filesystems): the new name
    /// is checked to be free, the file renamed with plain rename(2), and what arrived is compared with what left.
    /// Holds under ConsentGate's own lock (nothing else writes its folders); see docs/shares.md.
    case checked = "checked-rename"
}

/// What a probe found out about one folder's filesystem.
public struct FolderSupport: Sendable, Codable, Equatable {
    public var mode: MoveMode
    /// Whether a renamed file keeps its inode number (then a move is verified by device and inode too).
    public var inodeStable: Bool
    /// The smallest step of modification times the filesystem keeps, in seconds (1e-9 on local disks, 1 or 2 on
    /// some SMB servers): a file must stay unchanged longer than this before it can be called settled.
    public var mtimeGranularity: Double
    /// Why fsync of the folder failed, when it did (a rename into it may then not survive a power cut).
    public var folderSyncRefused: String?
}

extension FileIO {
    /// What each filesystem (by device number) was found to support: filled by `probeMoves(folder:)`, or learned by
    /// a move whose RENAME_NOREPLACE the filesystem rejected.
    static let known = Mutex([UInt64: FolderSupport]())

    /// Debug builds only: `CONSENTGATE_TEST_FORCE_PLAIN_RENAME=1` treats every filesystem as one without
    /// RENAME_NOREPLACE, so that the checked fallback runs on a local disk in tests.
    static let forcePlainRename: Bool = {
        #if DEBUG
            return getenv("CONSENTGATE_TEST_FORCE_PLAIN_RENAME").map { String(cString: $0) == "1" } ?? false
        #else
            return false
        #endif
    }()

    /// Renames `from` (in `fromFolder`) to `to` (in `toFolder`), never over anything that has the new name: the one
    /// place where ConsentGate moves a file it does not own. Returns 0, or -1 with errno set (EEXIST when the new
    /// name is taken, ENOENT when the file is gone, ESTALE when what arrived is not what left: then it is under the
    /// new name, and the caller treats it as unknown). Folders are descriptors or AT_FDCWD with paths.
    public static func moveNoReplace(
        from fromFolder: Int32, _ from: UnsafePointer<CChar>, to toFolder: Int32, _ to: UnsafePointer<CChar>
    ) -> Int32 {
        let device = deviceOfFolder(holding: to, in: toFolder)
        let mode = device.flatMap { device in known.withLock { $0[device]?.mode } }
        if mode != .checked && !forcePlainRename {
            if cgsys_rename_noreplace(fromFolder, from, toFolder, to) == 0 { return 0 }
            let failure = errno
            guard [EINVAL, ENOSYS, EOPNOTSUPP].contains(failure) else { return -1 }
            // Learned now (a folder no probe looked at): this filesystem has no RENAME_NOREPLACE.
            if let device {
                known.withLock {
                    if $0[device] == nil {
                        $0[device] = FolderSupport(
                            mode: .checked, inodeStable: false, mtimeGranularity: 2, folderSyncRefused: nil)
                    }
                }
            }
        }
        let inodeStable = device.flatMap { device in known.withLock { $0[device]?.inodeStable } } ?? false
        return checkedRename(from: fromFolder, from, to: toFolder, to, compareInode: inodeStable)
    }

    /// The fallback: the new name must be free (fstatat), then rename(2), then the file under the new name must be
    /// the one that left (type, size, modification time; device and inode where renames keep them) and the old name
    /// must no longer be it. Nothing but ConsentGate writes the destination folders and it moves under its pipeline
    /// lock, so the name cannot be taken between the check and the rename by anything this process does not know.
    static func checkedRename(
        from fromFolder: Int32, _ from: UnsafePointer<CChar>, to toFolder: Int32, _ to: UnsafePointer<CChar>,
        compareInode: Bool
    ) -> Int32 {
        var before = stat()
        guard fstatat(fromFolder, from, &before, AT_SYMLINK_NOFOLLOW) == 0 else { return -1 }
        var there = stat()
        if fstatat(toFolder, to, &there, AT_SYMLINK_NOFOLLOW) == 0 {
            errno = EEXIST
            return -1
        }
        guard errno == ENOENT else { return -1 }
        guard renameat(fromFolder, from, toFolder, to) == 0 else { return -1 }
        // What arrived, through a descriptor on the new name (O_PATH: any kind of file, never followed).
        let fd = cgsys_open_entry(toFolder, to)
        var after = stat()
        let arrived = fd >= 0 && fstat(fd, &after) == 0
        if fd >= 0 { close(fd) }
        guard arrived, sameFile(before, after, compareInode: compareInode) else {
            errno = ESTALE
            return -1
        }
        return 0
    }

    /// Whether two looks at a file see the same file: kind, size and modification time, and device and inode when
    /// the filesystem keeps them across a rename.
    static func sameFile(_ a: stat, _ b: stat, compareInode: Bool) -> Bool {
        guard a.st_mode & S_IFMT == b.st_mode & S_IFMT, a.st_size == b.st_size,
            a.st_mtim.tv_sec == b.st_mtim.tv_sec, a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
        else { return false }
        return !compareInode || (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    }

    /// The device number of the folder that will hold `path` (relative to `folder`), or nil if it cannot be read.
    static func deviceOfFolder(holding path: UnsafePointer<CChar>, in folder: Int32) -> UInt64? {
        let text = String(cString: path)
        var info = stat()
        let ok: Bool
        if let slash = text.lastIndex(of: "/") {
            let parent = slash == text.startIndex ? "/" : String(text[..<slash])
            ok = fstatat(folder, parent, &info, 0) == 0
        } else {
            ok = fstatat(folder, ".", &info, 0) == 0
        }
        return ok ? UInt64(info.st_dev) : nil
    }
}
