/// Why a file could not be read, written, inspected or sanitized. Every case carries a sentence a person can act on.
/// It lives here, beside `FileSource` and `FileIO`, because reading and writing files fail with it as much as
/// parsing media does, and callers (the commands, the pipeline) handle one error type for both.
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
