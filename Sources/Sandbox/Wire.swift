// The protocol between the pool and its workers, on a unix stream socketpair. Every message is a frame: a
// 4-byte little-endian length, then that many bytes. A request's body is a 2-byte operation-name length, the
// name (UTF-8) and the payload; its descriptors travel as SCM_RIGHTS with the frame's first bytes. A reply's
// body is one kind byte and the data.

enum Wire {
    /// The largest request a worker accepts (requests are small: the media travels as descriptors).
    static let requestLimit = 64 << 20
    /// The most descriptors one request may pass.
    static let descriptorLimit = 16

    enum ReplyKind: UInt8 {
        /// The first frame of a worker: `sandboxed=1` or `sandboxed=0;problem=…`.
        case hello = 0
        case ok = 1
        case operationFailed = 2
        case unknownOperation = 3
    }

    static func frame(_ body: [UInt8]) -> [UInt8] {
        let count = UInt32(body.count)
        return [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24)] + body
    }

    static func length(_ header: ArraySlice<UInt8>) -> Int {
        let bytes = Array(header.prefix(4))
        return Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
    }

    static func request(operation: String, payload: some Collection<UInt8>) -> [UInt8] {
        let name = Array(operation.utf8)
        return frame([UInt8(name.count & 0xFF), UInt8(name.count >> 8)] + name + payload)
    }

    /// The operation name and payload of a request body; nil when it is malformed.
    static func parseRequest(_ body: [UInt8]) -> (operation: String, payload: [UInt8])? {
        guard body.count >= 2 else { return nil }
        let nameLength = Int(body[0]) | Int(body[1]) << 8
        guard body.count >= 2 + nameLength else { return nil }
        let operation = String(decoding: body[2..<(2 + nameLength)], as: UTF8.self)
        return (operation, Array(body[(2 + nameLength)...]))
    }

    static func reply(_ kind: ReplyKind, _ data: some Collection<UInt8>) -> [UInt8] {
        frame([kind.rawValue] + data)
    }
}
