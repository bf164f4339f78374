import ByteKit
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The evidence folder (SPEC §1 `evidence:`, §5): the signed forms and revocation letters records name, each kept
/// as `SHA256.EXT` (the SHA-256 of its bytes, lower-case hex, and the extension it came with), mode 0640. A file
/// is stored once; a name already taken by other bytes is never replaced.
public enum EvidenceFolder {
    /// Stores `bytes` (read from `source`, whose extension is kept) and returns their SHA-256.
    @discardableResult
    public static func store(_ bytes: [UInt8], from source: String, in folder: String) throws(RecordError) -> String {
        let hash = sha256Hex(bytes)
        var info = stat()
        guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw RecordError(reason: "the evidence folder \(folder) is not a folder (make it first: mkdir -m 0750)")
        }
        if let existing = find(hash, in: folder) {
            // Stored before: the same bytes (checked), nothing to write.
            if let problem = check(hash, in: folder) {
                throw RecordError(reason: "\(existing) is in the evidence folder but \(problem): nothing replaced")
            }
            return hash
        }
        let ext = (source as NSString).pathExtension.lowercased()
        let plain = !ext.isEmpty && ext.count <= 8 && ext.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
        let path = (folder as NSString).appendingPathComponent(hash + (plain ? "." + ext : ""))
        let pending: FileIO.PendingFile
        do { pending = try FileIO.writePending(bytes, finalPath: path, mode: 0o640) } catch {
            throw RecordError(reason: "cannot store the evidence in \(folder): \(error)")
        }
        guard FileIO.moveNoReplace(from: AT_FDCWD, pending.temporaryPath, to: AT_FDCWD, pending.finalPath) == 0 else {
            let why = errno == EEXIST ? "\(path) appeared meanwhile; nothing replaced" : String(cString: strerror(errno))
            pending.discard()
            throw RecordError(reason: "cannot store the evidence in \(folder): \(why)")
        }
        return hash
    }

    /// The file that holds the document with this hash (`HASH` or `HASH.EXT`), if any.
    public static func find(_ hash: String, in folder: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().first { $0 == hash || $0.hasPrefix(hash + ".") }.map {
            (folder as NSString).appendingPathComponent($0)
        }
    }

    /// Why the document a record names is not in order (missing, unreadable or altered), or nil when it is.
    public static func check(_ hash: String, in folder: String) -> String? {
        guard let path = find(hash, in: folder) else { return "is missing from the evidence folder" }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return "is not a regular file (\(path))" }
        guard let bytes = try? FileIO.readFile(atPath: path, limit: 1 << 30) else { return "cannot be read (\(path))" }
        let actual = sha256Hex(bytes)
        return actual == hash ? nil : "was altered: \(path) now has SHA-256 \(actual)"
    }

}
