/// Why a file could not be inspected or sanitized. Every case carries a sentence a person can act on.
public enum MediaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A format ConsentGate recognises but cannot process (yet), or one it does not know.
    case unsupported(String)
    /// The bytes do not form a valid file of the detected format.
    case malformed(format: String, reason: String)
    /// A limit on bytes, pixels or memory was exceeded.
    case limitExceeded(String)
    /// Reading or writing failed.
    case io(String)
    /// The sanitized output failed its independent re-inspection.
    case verificationFailed(String)

    public var description: String {
        switch self {
        case .unsupported(let why): return "unsupported format: \(why)"
        case .malformed(let format, let reason): return "malformed \(format): \(reason)"
        case .limitExceeded(let why): return "limit exceeded: \(why)"
        case .io(let why): return why
        case .verificationFailed(let why): return "verification failed: \(why)"
        }
    }

    /// A stable machine-readable kind for JSON output.
    public var kind: String {
        switch self {
        case .unsupported: return "unsupported"
        case .malformed: return "malformed"
        case .limitExceeded: return "limit"
        case .io: return "io"
        case .verificationFailed: return "verification"
        }
    }
}

/// What sanitizing dropped, one line per structure up to `perKind` lines of each kind, then one line counting the
/// rest: a file of millions of empty segments must not make a list of millions of lines.
struct RemovedLog {
    static let perKind = 20
    static let maxKinds = 1000
    private(set) var lines: [String] = []
    private var counts: [String: Int] = [:]
    private var order: [String] = []

    private var overflow = 0

    mutating func note(_ kind: String, _ line: @autoclosure () -> String) {
        let seen = counts[kind] ?? 0
        if seen == 0 {
            guard order.count < RemovedLog.maxKinds else {
                overflow += 1
                return
            }
            order.append(kind)
        }
        counts[kind] = seen + 1
        if seen < RemovedLog.perKind { lines.append(line()) }
    }

    /// The lines, with "N more KIND" for each kind over `perKind`.
    var summary: [String] {
        var all = lines
        for kind in order {
            let count = counts[kind] ?? 0
            if count > RemovedLog.perKind { all.append("\(count - RemovedLog.perKind) more \(kind) (\(count) in all)") }
        }
        if overflow > 0 { all.append("\(overflow) more structures of other kinds") }
        return all
    }
}

/// How many structures (segments, chunks, blocks) a picture may have: the walk keeps one entry for each, and a
/// file made of millions of empty structures would otherwise cost dozens of times its size in memory.
enum StructureLimits {
    static let jpegSegments = 65_536
    static let pngChunks = 100_000
    static let gifBlocks = 100_000
    static let webpChunks = 100_000

    static func tooMany(_ what: String, _ limit: Int) -> MediaError {
        .limitExceeded("too many \(what): more than \(limit)")
    }
}
