internal import CSystemShims

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension FileIO {
    /// Finds out once, in one of ConsentGate's own folders, how its filesystem moves files (issue 31): a probe file
    /// `.probe.cg-RANDOM.tmp` is created, its modification time set to a value with odd seconds and nanoseconds and
    /// read back (the filesystem's time granularity), renamed with RENAME_NOREPLACE (or, where the flag is
    /// rejected, with rename(2), seeing whether its inode number survives), the folder synced, and the file removed.
    /// Later moves into any folder of that filesystem use what was found (`moveNoReplace`).
    public static func probeMoves(folder: String) throws(MediaError) -> FolderSupport {
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw .io("cannot open \(folder) to probe it: \(errnoText())") }
        defer { close(dir) }
        removeOldProbes(in: dir)
        let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let first = ".probe.cg-\(tag)a.tmp"
        let second = ".probe.cg-\(tag)b.tmp"
        let fd = openat(dir, first, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .io("cannot create a probe file in \(folder): \(errnoText())") }
        var removed = false
        defer { if !removed { unlinkat(dir, first, 0) } }
        let granularity = mtimeGranularity(fd)
        var before = stat()
        let statted = fstat(fd, &before) == 0
        close(fd)
        guard statted else { throw .io("cannot stat a probe file in \(folder): \(errnoText())") }
        var mode = MoveMode.noReplace
        if forcePlainRename || cgsys_rename_noreplace(dir, first, dir, second) != 0 {
            let failure = errno
            guard forcePlainRename || [EINVAL, ENOSYS, EOPNOTSUPP].contains(failure) else {
                throw .io("cannot rename a probe file in \(folder): \(String(cString: strerror(failure)))")
            }
            mode = .checked
            guard renameat(dir, first, dir, second) == 0 else {
                throw .io("cannot rename a probe file in \(folder) even without RENAME_NOREPLACE: \(errnoText())")
            }
        }
        var after = stat()
        let found = fstatat(dir, second, &after, AT_SYMLINK_NOFOLLOW) == 0
        unlinkat(dir, second, 0)
        removed = true
        guard found else { throw .io("a probe file renamed in \(folder) cannot be found: \(errnoText())") }
        var refused: String? = nil
        if fsyncFolder(dir) != 0 { refused = errnoText() }
        let support = FolderSupport(
            mode: mode, inodeStable: before.st_ino == after.st_ino && before.st_dev == after.st_dev,
            mtimeGranularity: granularity, folderSyncRefused: refused)
        var info = stat()
        if fstat(dir, &info) == 0 { known.withLock { $0[UInt64(info.st_dev)] = support } }
        return support
    }

    /// Sets the open file's modification time to an odd second of about now plus 0.123456789 s and reads back what
    /// was kept (about now, so that no sweep of stale temporary files takes the probe for an old one).
    static func mtimeGranularity(_ fd: Int32) -> Double {
        let odd = time(nil) | 1
        var times = [timespec(tv_sec: odd, tv_nsec: 123_456_789), timespec(tv_sec: odd, tv_nsec: 123_456_789)]
        var info = stat()
        guard futimens(fd, &times) == 0, fstat(fd, &info) == 0 else { return 2 }
        let nanoseconds = info.st_mtim.tv_nsec
        switch nanoseconds {
        case 123_456_789: return 1e-9
        case 123_456_700...123_456_799: return 1e-7
        case 123_456_000...123_456_999: return 1e-6
        case 1...: return 1e-3
        default: return info.st_mtim.tv_sec == odd ? 1 : 2
        }
    }

    /// Probe files a killed run left (changed over ten minutes ago: another host may be probing the same folder now).
    static func removeOldProbes(in dir: Int32) {
        let copy = dup(dir)
        guard copy >= 0, let listing = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return
        }
        defer { closedir(listing) }
        var old: [String] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix(".probe.cg-") && name.hasSuffix(".tmp") else { continue }
            var info = stat()
            if fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG,
                time(nil) - info.st_mtim.tv_sec > 600
            {
                old.append(name)
            }
        }
        for name in old { unlinkat(dir, name, 0) }
    }
}
