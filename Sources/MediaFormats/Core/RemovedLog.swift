import ByteKit

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
