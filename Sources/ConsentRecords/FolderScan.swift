import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The entries of the authorizations folder as the file system has them: raw name bytes (a name need not be
/// UTF-8), the kind from `lstat` (a link is a link, never followed), the size. Files are read only through
/// `read`, which refuses anything but a regular file within a size cap, so a FIFO cannot hang a run and a
/// 10 GB file is never read.
enum FolderScan {
    enum Kind: Equatable {
        case regular, directory, symlink, fifo, socket, device, other

        var words: String {
            switch self {
            case .regular: return "a file"
            case .directory: return "a folder"
            case .symlink: return "a symbolic link (never followed)"
            case .fifo: return "a named pipe (never read)"
            case .socket: return "a socket (never read)"
            case .device: return "a device (never read)"
            case .other: return "not a regular file"
            }
        }
    }

    struct Entry {
        /// The name inside its folder.
        var name: [UInt8]
        /// The path from the authorizations folder ("old/x.json" inside a subfolder).
        var relative: [UInt8]
        var path: [UInt8]
        var kind: Kind
        var size: Int64
        /// `relative` as text; bytes that are not UTF-8 become U+FFFD (`relative` keeps them).
        var display: String { String(decoding: relative, as: UTF8.self) }
    }

    /// Why an entry could not be listed or read, in words.
    struct Failure: Error {
        var why: String
        init(_ why: String) { self.why = why }
    }

    static func cString(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    static func kind(of mode: mode_t) -> Kind {
        switch mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        case S_IFCHR, S_IFBLK: return .device
        default: return .other
        }
    }

    static func exists(_ path: [UInt8]) -> Bool {
        var info = stat()
        return lstat(cString(path), &info) == 0
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The entries of one folder (without "." and ".."), sorted by name bytes. `followLink` is for the
    /// configured top folder only; a subfolder found inside is opened with O_NOFOLLOW.
    static func list(_ folder: [UInt8], relative: [UInt8], followLink: Bool) -> Result<[Entry], Failure> {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followLink ? 0 : O_NOFOLLOW)
        let fd = open(cString(folder), flags)
        guard fd >= 0 else { return .failure(Failure(errnoText())) }
        guard let dir = fdopendir(fd) else {
            let why = errnoText()
            close(fd)
            return .failure(Failure(why))
        }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let item = readdir(dir) {
            let name: [UInt8] = withUnsafePointer(to: &item.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { chars in
                    Array(UnsafeRawBufferPointer(start: chars, count: strlen(chars)))
                }
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let path = folder + [0x2F] + name
            var info = stat()
            let entryKind: Kind
            var size: Int64 = 0
            if lstat(cString(path), &info) == 0 {
                entryKind = kind(of: info.st_mode)
                size = Int64(info.st_size)
            } else {
                entryKind = .other
            }
            entries.append(
                Entry(
                    name: name, relative: relative.isEmpty ? name : relative + [0x2F] + name, path: path,
                    kind: entryKind, size: size))
        }
        return .success(entries.sorted { $0.name.lexicographicallyPrecedes($1.name) })
    }

    /// The entries without each `X.minisig` whose `X` is a regular file beside it: a signature goes with its
    /// file (verified, or scanned, with it).
    static func withoutSignatures(_ entries: [Entry]) -> [Entry] {
        let suffix = Array(".minisig".utf8)
        let files = Set(entries.filter { $0.kind == .regular }.map(\.name))
        return entries.filter { entry in
            !(entry.kind == .regular && entry.name.count > suffix.count
                && entry.name.suffix(suffix.count).elementsEqual(suffix)
                && files.contains(Array(entry.name.dropLast(suffix.count))))
        }
    }

    /// A regular file's bytes, at most `limit` of them: opened without following a link and without blocking,
    /// checked to be a regular file and within the cap before a byte is read.
    static func read(_ path: [UInt8], limit: Int) -> Result<[UInt8], Failure> {
        let fd = open(cString(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            return .failure(
                Failure(errno == ELOOP ? "a symbolic link (never followed)" : "cannot be read: \(errnoText())"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(Failure("cannot be read: \(errnoText())")) }
        let fileKind = kind(of: info.st_mode)
        guard fileKind == .regular else { return .failure(Failure(fileKind.words)) }
        guard info.st_size <= limit else {
            return .failure(Failure("is \(info.st_size) bytes, over the limit of \(limit); not read"))
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard got >= 0 else { return .failure(Failure("cannot be read: \(errnoText())")) }
            if got == 0 { break }
            count += got
        }
        // It grew while being read: whatever it holds now is not what was checked.
        guard count <= info.st_size, count <= limit else {
            return .failure(Failure("changed while it was read; over the limit of \(limit)"))
        }
        return .success(Array(bytes[0..<count]))
    }
}
