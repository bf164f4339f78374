import ByteKit
@_exported import FaceDetection
import Foundation
import MediaFormats
import Sandbox

/// Why a media operation did not succeed.
public enum MediaServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file was read safely and refused (malformed, over a limit, not verifiable...): the parser's own words.
    case refused(MediaError)
    /// The reader itself failed, twice, in fresh workers (a crash, a forbidden system call, a deadline, a limit):
    /// "could not be read safely: the reader crashed (SIGSEGV)".
    case readerFailed(String)

    public var description: String {
        switch self {
        case .refused(let error): return error.description
        case .readerFailed(let why): return "could not be read safely: \(why)"
        }
    }
}

/// The process that moves files asks this for every operation on media bytes, handing over open descriptors. With
/// `sandboxed`, each operation runs in a long-lived worker process behind a seccomp filter, with memory and CPU
/// limits and a deadline; a worker that falls costs one request, tried once more in a fresh worker (SPEC §2).
/// `inProcess` runs the very same operations in this process, without containment: for unit tests and fuzzing only.
public final class MediaService: Sendable {
    let pool: WorkerPool?
    /// The workers obey test markers (a debug build run with CONSENTGATE_WORKER_TEST_HOOKS=1).
    let testHooks: Bool

    init(pool: WorkerPool?, testHooks: Bool = false) {
        self.pool = pool
        self.testHooks = testHooks
    }

    /// The operations in this process, uncontained (unit tests, fuzzing).
    public static let inProcess = MediaService(pool: nil)

    /// A pool of `workers` sandboxed workers, each the `executable` (this program) started as `consentgate worker`.
    /// `environment`: the workers' whole environment (test hooks are passed this way, never inherited).
    public static func sandboxed(
        executable: String, workers: Int = max(2, ProcessInfo.processInfo.activeProcessorCount),
        limits: WorkerLimits = .init(), deadline: Duration = .seconds(120), environment: [String: String] = [:]
    ) throws(MediaServiceError) -> MediaService {
        var configuration = WorkerPool.Configuration(
            executable: executable, workerCount: workers, limits: limits, deadline: deadline)
        configuration.environment = environment
        do {
            return MediaService(
                pool: try WorkerPool(configuration: configuration),
                testHooks: environment["CONSENTGATE_WORKER_TEST_HOOKS"] == "1")
        } catch {
            throw .readerFailed("the sandboxed workers could not be started: \(error)")
        }
    }

    /// Nil when every operation runs sandboxed; otherwise why not, to be said once by the caller.
    public var unsandboxedBecause: String? {
        guard let pool else { return "media is read in this process (no worker processes)" }
        if let problem = pool.sandboxProblem { return "the workers run without the seccomp filter: \(problem)" }
        return testHooks ? "test hooks are on (CONSENTGATE_WORKER_TEST_HOOKS): workers obey test markers" : nil
    }

    /// The workers' process ids (tests look at their /proc status).
    public var workerProcessIDs: [Int32] { pool?.workerProcessIDs ?? [] }

    public func shutdown() { pool?.shutdown() }

    /// Format and both fingerprints of the open file `input`; with `hashFile` false its `file_sha256` is left empty
    /// and a movie's definition-1 content fingerprint out (for callers that use only the presented fingerprint).
    /// With `faces`, the same worker also counts the faces in it (`FingerprintReading.faces`).
    public func fingerprints(
        _ input: Int32, limits: MediaLimits = .init(), hashFile: Bool = true, faces: FaceOptions? = nil
    ) throws(MediaServiceError) -> FingerprintReading {
        try call(
            MediaWire.fingerprints, MediaWire.FingerprintRequest(limits: limits, hashFile: hashFile, faces: faces),
            [input]
        ).value
    }

    /// Sanitizes `input` into `output` (a temporary file the caller created and will commit), verified by the format's
    /// own re-reading in the same worker; with `output` nil, only checks that it could be. Returns the worker that
    /// wrote, so that `verify` can avoid it.
    ///
    /// `presentedCheckedByVerifier`: pass true only when the copy is then given to `verify` with the input's
    /// `presented_sha256` (taken by `fingerprints`, not by this writer) as `expectedPresented`, or to
    /// `verifyReporting`, whose result is then compared with that fingerprint. The writer then skips
    /// its own comparison of what the copy presents (a walk and a hash of the whole copy), which that reading repeats
    /// independently; it still compares the coded data with the input's byte for byte. Options that drop the ICC
    /// profile or Orientation are checked by the writer regardless.
    public func sanitize(
        _ input: Int32, into output: Int32?, options: SanitizeOptions, knownContent: String?,
        presentedCheckedByVerifier: Bool = false
    ) throws(MediaServiceError) -> (reading: SanitizeReading, writer: WorkerID?) {
        let request = MediaWire.SanitizeRequest(
            options: options, knownContent: knownContent,
            presentedCheckedByVerifier: presentedCheckedByVerifier && output != nil)
        let result: (value: SanitizeReading, worker: WorkerID?) = try call(
            MediaWire.sanitize, request,
            output.map { [input, $0] } ?? [input])
        return (result.value, result.worker)
    }

    /// The independent re-inspection of a written copy, in a worker other than `writer`: no metadata left but what
    /// `options` keep, the presented fingerprint `expectedPresented`, and for video and HEIF the format's full check
    /// (allowlist, exact sizes, zeroed unused bytes, the original's size). `expectedPresented` nil only when options
    /// drop the ICC profile or Orientation (the writer then compared a picture's presentation; a video or HEIF copy
    /// is refused). It reports no file hash of the copy: a caller that records one computes it itself (a reader that
    /// lies about the metadata could report the right hash anyway).
    public func verify(
        _ output: Int32, expectedPresented: String?, expectedSize: Int? = nil, options: SanitizeOptions,
        avoiding writer: WorkerID?
    ) throws(MediaServiceError) {
        _ = try verifying(
            output, expectedPresented: expectedPresented, expectedSize: expectedSize, options: options,
            callerCompares: false, avoiding: writer)
    }

    /// The same checks, without the original's fingerprint: returns what the copy presents, which the caller MUST
    /// compare with an independent reading of the original (`strip` starts the verifier before that reading ends).
    public func verifyReporting(
        _ output: Int32, expectedSize: Int?, options: SanitizeOptions, avoiding writer: WorkerID?
    ) throws(MediaServiceError) -> String {
        try verifying(
            output, expectedPresented: nil, expectedSize: expectedSize, options: options, callerCompares: true,
            avoiding: writer)
    }

    private func verifying(
        _ output: Int32, expectedPresented: String?, expectedSize: Int?, options: SanitizeOptions,
        callerCompares: Bool, avoiding writer: WorkerID?
    ) throws(MediaServiceError) -> String {
        let request = MediaWire.VerifyRequest(
            options: options, expectedPresented: expectedPresented, expectedSize: expectedSize,
            callerCompares: callerCompares)
        let result: (value: MediaWire.VerifyReading, worker: WorkerID?) = try call(
            MediaWire.verify, request, [output], avoiding: writer)
        return result.value.presentedSHA256
    }

    /// The structure, metadata and fingerprints of the open file `input`.
    public func inspect(_ input: Int32, limits: MediaLimits = .init()) throws(MediaServiceError) -> InspectReport {
        try call(MediaWire.inspect, MediaWire.Limits(limits: limits), [input]).value
    }

    /// A small upright JPEG of a JPEG or PNG for a person to look at.
    public func preview(_ input: Int32, maxSide: Int = Preview.defaultMaxSide) throws(MediaServiceError) -> Preview {
        try call(MediaWire.preview, MediaWire.PreviewRequest(maxSide: maxSide), [input]).value
    }

    private func call<Request: Encodable, Value: Codable>(
        _ operation: String, _ request: Request, _ descriptors: [Int32], avoiding: WorkerID? = nil
    ) throws(MediaServiceError) -> (value: Value, worker: WorkerID?) {
        let payload: Data
        do { payload = try JSONEncoder().encode(request) } catch { throw .refused(.io("cannot encode: \(error)")) }
        var answer: Data
        var worker: WorkerID? = nil
        if let pool {
            do {
                let reply = try pool.perform(
                    WorkerRequest(operation, payload: payload, descriptors: descriptors, avoiding: avoiding))
                answer = reply.payload
                worker = reply.worker
            } catch {
                throw .readerFailed(error.description)
            }
        } else {
            guard let handler = MediaOperations.handlers[operation] else { throw .readerFailed("no \(operation)") }
            do { answer = try handler(payload, descriptors) } catch { throw .readerFailed("\(error)") }
        }
        let result: WireResult<Value>
        do { result = try JSONDecoder().decode(WireResult<Value>.self, from: answer) } catch {
            throw .readerFailed("the reader answered garbage (a reply that is not the expected JSON)")
        }
        switch result {
        case .ok(let value): return (value, worker)
        case .refused(let error): throw .refused(error.mediaError)
        }
    }
}
