import ByteKit
import FaceDetection
import Foundation
import MediaFormats
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The worker side: the operations on media bytes a worker performs, each on descriptors it was handed (it can open
/// nothing itself). Registered in `consentgate worker`; the same closures run in process for `MediaService.inProcess`.
public enum MediaOperations {
    public static let handlers: [String: WorkerMain.Handler] = [
        MediaWire.fingerprints: { payload, descriptors in
            respond { () throws(MediaError) -> FingerprintReading in
                let request = try decode(MediaWire.FingerprintRequest.self, payload)
                let source = try input(descriptors, 0)
                try TestMarkers.honour(source)
                let file = try MediaFile(source: source, limits: request.limits)
                do {
                    var prints = try file.fingerprints(hashingFile: request.hashFile)
                    if try TestMarkers.lies(source) { prints.presentedSHA256 = String(repeating: "0", count: 64) }
                    var reading = FingerprintReading(
                        format: file.format, size: file.size, fingerprints: prints, parseError: nil)
                    if let options = request.faces {
                        (reading.faces, reading.facesNotCounted) = FaceCount.read(
                            source, format: file.format, options: options, limits: request.limits)
                    }
                    return reading
                } catch {
                    // Unparseable: only the file's own hash is known (a record naming this exact file could match;
                    // the sanitizer will refuse it anyway).
                    let whole = Fingerprints(
                        format: file.format, fileSHA256: try source.sha256(), presentedSHA256: nil, legacyContentSHA256: nil)
                    return FingerprintReading(
                        format: file.format, size: file.size, fingerprints: whole, parseError: "\(error)")
                }
            }
        },
        MediaWire.sanitize: { payload, descriptors in
            respond { () throws(MediaError) -> SanitizeReading in
                let request = try decode(MediaWire.SanitizeRequest.self, payload)
                let source = try input(descriptors, 0)
                try TestMarkers.honour(source)
                let file = try MediaFile(source: source, limits: request.options.limits)
                let output: OutputTarget? = descriptors.count > 1 ? .descriptor(descriptors[1]) : nil
                let done = try file.sanitize(
                    into: output, options: request.options, knownContent: request.knownContent,
                    presentedCheckedByVerifier: request.presentedCheckedByVerifier)
                return SanitizeReading(
                    format: done.format, orientation: done.orientation, removed: done.removed,
                    pixelSHA256: done.pixelSHA256)
            }
        },
        MediaWire.verify: { payload, descriptors in
            respond { () throws(MediaError) -> MediaWire.VerifyReading in
                let request = try decode(MediaWire.VerifyRequest.self, payload)
                let file = try MediaFile(source: try input(descriptors, 0), limits: request.options.limits)
                let presented = try file.verifySanitized(
                    expectedPresented: request.expectedPresented, expectedSize: request.expectedSize,
                    options: request.options, callerCompares: request.callerCompares)
                return MediaWire.VerifyReading(presentedSHA256: presented)
            }
        },
        MediaWire.inspect: { payload, descriptors in
            respond { () throws(MediaError) -> InspectReport in
                let request = try decode(MediaWire.Limits.self, payload)
                let source = try input(descriptors, 0)
                try TestMarkers.honour(source)
                return try MediaFile(source: source, limits: request.limits).inspect(limits: request.limits)
            }
        },
        MediaWire.preview: { payload, descriptors in
            respond { () throws(MediaError) -> Preview in
                let request = try decode(MediaWire.PreviewRequest.self, payload)
                let source = try input(descriptors, 0)
                guard source.count <= Preview.defaultLimits.maxFileBytes else {
                    throw .limitExceeded(
                        "the file is \(source.count) bytes, over the preview limit of \(Preview.defaultLimits.maxFileBytes)")
                }
                let bytes = try source.read(0..<source.count)
                let format = MediaFormat.sniff(Array(bytes.prefix(32)))
                guard Preview.supports(format) else { throw .unsupported(format.rawValue) }
                return try Preview.make(bytes, format: format, maxSide: request.maxSide)
            }
        },
    ]

    static func input(_ descriptors: [Int32], _ index: Int) throws(MediaError) -> FileSource {
        guard index < descriptors.count else { throw .io("no file was passed to the worker") }
        return try FileSource(descriptor: descriptors[index])
    }

    static func decode<T: Decodable>(_ type: T.Type, _ payload: Data) throws(MediaError) -> T {
        do { return try JSONDecoder().decode(type, from: payload) } catch {
            throw .io("the request cannot be read: \(error)")
        }
    }

    /// Encodes the value, or the media error the work ended with, as the reply.
    static func respond<Value: Codable>(_ work: () throws(MediaError) -> Value) -> Data {
        let result: WireResult<Value>
        do { result = .ok(try work()) } catch { result = .refused(WireMediaError(error)) }
        return (try? JSONEncoder().encode(result)) ?? Data()
    }
}

/// Test-only misbehaviour, honoured only in a worker started with `CONSENTGATE_WORKER_TEST_HOOKS=1`: a file whose
/// first 64 KiB hold one of these markers makes the worker crash, spin, allocate without end, try to open a file
/// (which the seccomp filter punishes), or lie about the file's fingerprint, as a hostile file exploiting a parser
/// bug would. Tests of containment drop such files into a real run.
public enum TestMarkers {
    /// Set by `consentgate worker` from its environment, once, before any request.
    nonisolated(unsafe) public static var enabled = false

    static func honour(_ source: FileSource) throws(MediaError) {
        guard enabled else { return }
        let head = try self.head(source)
        if head.contains("CONSENTGATE-TEST-CRASH") { raise(SIGSEGV) }
        if head.contains("CONSENTGATE-TEST-OPEN") { _ = open("/etc/hostname", O_RDONLY) }
        if head.contains("CONSENTGATE-TEST-SPIN") { while true { sched_yield() } }
        if head.contains("CONSENTGATE-TEST-ALLOCATE") {
            var hoard: [[UInt8]] = []
            while true { hoard.append([UInt8](repeating: 1, count: 64 << 20)) }
        }
    }

    /// CONSENTGATE-TEST-LIE: the fingerprint reader reports a presented fingerprint the file does not have, as a
    /// reader a crafted file took over would (what it says is compared with the verifier's reading of the copy).
    static func lies(_ source: FileSource) throws(MediaError) -> Bool {
        guard enabled else { return false }
        return try head(source).contains("CONSENTGATE-TEST-LIE")
    }

    static func head(_ source: FileSource) throws(MediaError) -> String {
        String(decoding: try source.read(0..<min(source.count, 65_536)), as: UTF8.self)
    }
}
