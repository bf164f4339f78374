import ByteKit
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one way a command writes a report, a page or a copy a person asked for (`--out`, `--output`, `-o`): only a
/// new file, or with `overwrite` a regular file with one link, never a link, a device, a folder or a FIFO, never
/// into a pipeline's folders, its ledger (and the ledger's head and journal), its records or its trust file; `-`
/// is standard output. SPEC §6.
public enum OutputFile {
    /// Why `path` may not be written, or nil when it may. `pipelines`: the places of these pipelines are refused.
    public static func problem(_ path: String, overwrite: Bool, pipelines: [PipelineConfig] = []) -> String? {
        guard !path.isEmpty else { return "an empty path" }
        if path == "-" { return nil }
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                if info.st_nlink > 1 { return "\(path) is a file with \(info.st_nlink) names (a hard link): never written over" }
                if !overwrite { return "\(path) exists (add --overwrite to replace it, or --out - for standard output)" }
            case S_IFLNK: return "\(path) is a symbolic link: never written through or over"
            case S_IFDIR: return "\(path) is a folder: name a file"
            default: return "\(path) is not a regular file (a device, FIFO or socket): never written over"
            }
        } else if errno != ENOENT {
            return "cannot examine \(path): \(String(cString: strerror(errno)))"
        }
        let target = PipelineConfig.resolveLinks(
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
        for config in pipelines {
            var places = config.places
            if config.postgres == nil {
                for suffix in [".head", "-wal", "-shm", "-journal"] { places.append(("ledger", config.ledger + suffix)) }
            }
            for (key, place) in places {
                let real = PipelineConfig.resolveLinks(place)
                if target == real || target.hasPrefix(real + "/") {
                    return "\(path) is the pipeline's \(key) or lies in it (\(place)): write it elsewhere, or --out -"
                }
            }
        }
        return nil
    }

    /// Writes `bytes` to `path` (see `problem`): through a temporary file in the same folder, synced, then put in
    /// place without replacing anything that appeared meanwhile (unless `overwrite`).
    public static func write(
        _ bytes: [UInt8], to path: String, mode: mode_t, overwrite: Bool, pipelines: [PipelineConfig] = []
    ) throws(PipelineError) {
        if let why = problem(path, overwrite: overwrite, pipelines: pipelines) {
            throw PipelineError("cannot write \(path): \(why)", exitCode: 2)
        }
        if path == "-" {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        let pending: FileIO.PendingFile
        do { pending = try FileIO.writePending(bytes, finalPath: path, mode: mode) } catch {
            throw PipelineError("cannot write \(path): \(error)", exitCode: 2)
        }
        try commit(pending, overwrite: overwrite)
    }

    /// Puts a written temporary file at its final name: over a regular file only with `overwrite` (checked before
    /// by `problem`), otherwise never over anything that appeared there since the check (a long sanitize leaves
    /// time for that): the no-replace move, which holds on shares without hard links too.
    public static func commit(_ pending: FileIO.PendingFile, overwrite: Bool) throws(PipelineError) {
        if overwrite {
            do { try pending.commit() } catch {
                throw PipelineError("cannot write \(pending.finalPath): \(error)", exitCode: 2)
            }
            return
        }
        guard FileIO.moveNoReplace(from: AT_FDCWD, pending.temporaryPath, to: AT_FDCWD, pending.finalPath) == 0 else {
            let why = errno == EEXIST ? "something appeared there meanwhile; nothing replaced" : String(cString: strerror(errno))
            pending.discard()
            throw PipelineError("cannot write \(pending.finalPath): \(why)", exitCode: 2)
        }
        FileIO.syncFolder(of: pending.finalPath)
    }
}
