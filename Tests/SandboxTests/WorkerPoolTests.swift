import Foundation
import Sandbox
import Synchronization
import XCTest

/// The worker pool on the built `consentgate` binary, with its test hooks switched on.
final class WorkerPoolTests: XCTestCase {
    /// The `consentgate` executable beside the test bundle, or a skip saying how to build it.
    static func executable() throws -> String {
        let folder = (Bundle.main.executableURL ?? Bundle.main.bundleURL).deletingLastPathComponent()
        for candidate in [folder, folder.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("consentgate").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("the consentgate binary is not beside the tests: run `swift build --build-tests` first")
    }

    func makePool(
        workers: Int = 1, limits: WorkerLimits = WorkerLimits(), deadline: Duration = .seconds(30),
        environment: [String: String] = [:]
    ) throws -> WorkerPool {
        var configuration = WorkerPool.Configuration(
            executable: try Self.executable(), workerCount: workers, limits: limits, deadline: deadline)
        configuration.environment = environment.merging(["CONSENTGATE_WORKER_TEST_HOOKS": "1"]) { mine, _ in mine }
        let pool = try WorkerPool(configuration: configuration)
        addTeardownBlock { pool.shutdown() }
        return pool
    }

    func temporaryFile(_ contents: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cg-sandbox-" + UUID().uuidString)
        try Data(contents.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func pid(_ pool: WorkerPool, avoiding: WorkerID? = nil) throws -> (Int32, WorkerReply) {
        let reply = try pool.perform(WorkerRequest("test.pid", avoiding: avoiding))
        return (Int32(String(decoding: reply.payload, as: UTF8.self))!, reply)
    }

    /// The failure `body` throws, or a test failure when it throws something else or nothing.
    func failure(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> WorkerError? {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
        } catch let error as WorkerError {
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    func testEchoPassesADescriptorAndWorkersServeManyRequests() throws {
        let pool = try makePool(workers: 2)
        XCTAssertTrue(pool.sandboxed, pool.sandboxProblem ?? "")
        let started = Set(pool.workerProcessIDs)
        XCTAssertEqual(started.count, 2)
        let file = try temporaryFile("the bytes of a file")
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        var answered: Set<Int32> = []
        for index in 0..<50 {
            let reply = try pool.perform(
                WorkerRequest("test.echo", payload: Data("#\(index):".utf8), descriptors: [descriptor]))
            XCTAssertEqual(String(decoding: reply.payload, as: UTF8.self), "#\(index):the bytes of a file")
            XCTAssertNil(reply.retriedAfter)
            answered.insert(reply.worker.processID)
        }
        XCTAssertTrue(answered.isSubset(of: started), "no new process per request")
        XCTAssertEqual(pool.workersStarted, 2)
        // The descriptor is the caller's still.
        XCTAssertEqual(lseek(descriptor, 0, SEEK_CUR), 0)
    }

    func testWorkersAreSandboxedAndInheritNothing() throws {
        // A descriptor the parent holds without close-on-exec must not reach the worker either.
        let leaky = open("/dev/null", O_RDONLY)
        XCTAssertGreaterThan(leaky, 3)
        defer { close(leaky) }
        let pool = try makePool(limits: WorkerLimits(memoryBytes: 1 << 30))
        let (worker, _) = try pid(pool)
        let status = try String(contentsOfFile: "/proc/\(worker)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("Seccomp:\t2\n"), status)
        XCTAssertTrue(status.contains("NoNewPrivs:\t1\n"), status)
        let limits = try String(contentsOfFile: "/proc/\(worker)/limits", encoding: .utf8)
        let addressSpace = limits.split(separator: "\n").first { $0.hasPrefix("Max address space") } ?? ""
        XCTAssertTrue(addressSpace.contains("\(1 << 30)"), String(addressSpace))
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        XCTAssertTrue(core.contains(" 0 "), String(core))
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(worker)/fd").sorted()
        XCTAssertEqual(descriptors, ["0", "1", "2", "3"])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker)/fd/0"), "/dev/null")
    }

    func testCodablePayloadsAndReplies() throws {
        struct Question: Codable, Equatable {
            var asset: String
            var sizes: [Int]
        }
        let pool = try makePool()
        let question = Question(asset: "a1b2", sizes: [1, 2, 3])
        let (reply, worker) = try pool.perform("test.echo", json: question, replying: Question.self)
        XCTAssertEqual(reply, question)
        XCTAssertEqual(worker.processID, pool.workerProcessIDs.first)
        XCTAssertThrowsError(try pool.perform("test.pid", json: question, replying: Question.self)) { error in
            XCTAssertEqual(error as? WorkerError, .failed(.garbage("a reply that is not the expected JSON")))
        }
    }

    func testOpeningAFileKillsTheWorkerAndTheRequestIsRetriedOnce() throws {
        let pool = try makePool()
        let (first, _) = try pid(pool)
        let error = failure { _ = try pool.perform(WorkerRequest("test.open")) }
        XCTAssertEqual(error, .failed(.forbiddenSystemCall))
        XCTAssertTrue(error?.description.contains("forbidden system call") ?? false)
        XCTAssertEqual(pool.workersStarted, 2, "the first worker, then one fresh worker for the retry")
        XCTAssertEqual(kill(first, 0), -1, "the first worker is gone")
        let (next, reply) = try pid(pool)
        XCTAssertNotEqual(next, first)
        XCTAssertNil(reply.retriedAfter)
        XCTAssertEqual(pool.workersStarted, 3)
    }

    /// A worker that keeps a descriptor it was handed (to write into a verified copy later, say) is killed: its
    /// answer is not accepted, and the request is tried in a fresh worker, which keeps it too.
    func testAWorkerThatKeepsAHandedDescriptorIsKilled() throws {
        let pool = try makePool()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cg-keep-" + UUID().uuidString)
        try Data("bytes".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fd = open(file.path, O_RDONLY)
        defer { close(fd) }
        let error = failure { _ = try pool.perform(WorkerRequest("test.keep", descriptors: [fd])) }
        XCTAssertEqual(error, .failed(.garbage("it kept a descriptor it was handed")))
        // The same answer from a worker that closes what it was handed is accepted.
        XCTAssertEqual(try pool.perform(WorkerRequest("test.echo", descriptors: [fd])).payload, Data("bytes".utf8))
    }

    func testEveryForbiddenCallKillsTheWorker() throws {
        let pool = try makePool()
        let calls = [
            "stat", "fork", "exec", "socket", "unlink", "rename", "chdir", "dup", "ioctl", "exec-mapping",
            "file-mapping", "kill:\(getpid())",
        ]
        for call in calls {
            let error = failure { _ = try pool.perform(WorkerRequest("test.forbidden", payload: Data(call.utf8))) }
            XCTAssertEqual(error, .failed(.forbiddenSystemCall), call)
        }
        // The first call fails in the first worker, then in a fresh one; every later call in two fresh ones.
        XCTAssertEqual(pool.workersStarted, 2 * calls.count)
        XCTAssertNoThrow(try pid(pool))
    }

    func testShutdownEndsEveryWorker() throws {
        let pool = try makePool(workers: 2)
        let workers = pool.workerProcessIDs
        XCTAssertEqual(workers.count, 2)
        pool.shutdown()
        for worker in workers { XCTAssertEqual(kill(worker, 0), -1, "worker \(worker) is gone and reaped") }
        XCTAssertEqual(failure { _ = try pool.perform(WorkerRequest("test.pid")) }, .shutDown)
    }

    func testACrashIsReportedWithItsSignal() throws {
        let pool = try makePool()
        let error = failure { _ = try pool.perform(WorkerRequest("test.crash")) }
        XCTAssertEqual(error, .failed(.crashed(signal: SIGSEGV)))
        XCTAssertEqual(error?.description, "the reader crashed (SIGSEGV)")
        XCTAssertNoThrow(try pid(pool))
    }

    func testAMissedDeadlineKillsTheWorker() throws {
        let pool = try makePool(deadline: .seconds(2))
        let start = ContinuousClock.now
        let error = failure { _ = try pool.perform(WorkerRequest("test.spin")) }
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(error, .failed(.timedOut(seconds: 2)))
        XCTAssertEqual(error?.description, "the reader took longer than 2 s")
        XCTAssertLessThan(elapsed, .seconds(8), "two attempts of 2 s, and two starts")
        XCTAssertGreaterThanOrEqual(elapsed, .seconds(4))
        XCTAssertNoThrow(try pid(pool))
    }

    func testTheCPULimitStopsASpinningWorker() throws {
        let pool = try makePool(limits: WorkerLimits(cpuSecondsPerRequest: 1), deadline: .seconds(60))
        // Earlier requests' CPU time does not count against a later one.
        for _ in 0..<3 { _ = try pool.perform(WorkerRequest("test.spin", payload: Data("0.6".utf8))) }
        XCTAssertEqual(pool.workersStarted, 1)
        let start = ContinuousClock.now
        let error = failure { _ = try pool.perform(WorkerRequest("test.spin")) }
        XCTAssertEqual(error, .failed(.exceededCPU(seconds: 1)))
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(15))
    }

    func testRunningOutOfMemoryIsReportedAsSuch() throws {
        let pool = try makePool(limits: WorkerLimits(memoryBytes: 768 << 20))
        // The limit is real: a worker can still do its work below it.
        XCTAssertEqual(try pool.perform(WorkerRequest("test.allocate", payload: Data("64".utf8))).payload.count, 2)
        let error = failure { _ = try pool.perform(WorkerRequest("test.allocate")) }
        XCTAssertEqual(error, .failed(.exceededMemory(limitMiB: 768)))
        XCTAssertEqual(error?.description, "the reader exceeded its memory limit (768 MiB)")
        XCTAssertNoThrow(try pid(pool))
    }

    func testAWorkerKilledWhileIdleIsReplacedWithoutCostingARetry() throws {
        let pool = try makePool()
        let (first, _) = try pid(pool)
        XCTAssertEqual(kill(first, SIGKILL), 0)
        usleep(100_000)
        let (second, reply) = try pid(pool)
        XCTAssertNotEqual(second, first)
        XCTAssertNil(reply.retriedAfter, "a worker found dead is replaced before the request is sent")
    }

    func testAWorkerKilledDuringARequestCostsOneRetry() throws {
        let pool = try makePool()
        let (worker, _) = try pid(pool)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { kill(worker, SIGKILL) }
        let reply = try pool.perform(WorkerRequest("test.spin", payload: Data("1.5".utf8)))
        XCTAssertEqual(reply.retriedAfter, .crashed(signal: SIGKILL))
        XCTAssertEqual(reply.retriedAfter?.description, "the reader was killed (SIGKILL)")
        XCTAssertNotEqual(reply.worker.processID, worker)
    }

    func testGarbageOnTheSocketIsAFailure() throws {
        let pool = try makePool()
        let error = failure { _ = try pool.perform(WorkerRequest("test.garbage")) }
        guard case .failed(.garbage(let what)) = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(what.contains("over the limit"), what)
        XCTAssertNoThrow(try pid(pool))
    }

    func testConcurrentCallersAreAllAnswered() throws {
        let pool = try makePool(workers: 3)
        let file = try temporaryFile("shared")
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        defer { close(descriptor) }
        let wrong = Mutex(0)
        let answered = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for index in 0..<40 {
                let payload = "\(thread)/\(index):"
                let reply = try? pool.perform(
                    WorkerRequest("test.echo", payload: Data(payload.utf8), descriptors: [descriptor]))
                if let reply, String(decoding: reply.payload, as: UTF8.self) == payload + "shared" {
                    answered.withLock { $0 += 1 }
                } else {
                    wrong.withLock { $0 += 1 }
                }
            }
        }
        XCTAssertEqual(answered.withLock { $0 }, 320)
        XCTAssertEqual(wrong.withLock { $0 }, 0)
        XCTAssertEqual(pool.workersStarted, 3)
    }

    func testAvoidingAWorkerRunsTheRequestElsewhere() throws {
        for workers in [1, 2] {
            let pool = try makePool(workers: workers)
            let (writer, written) = try pid(pool)
            for _ in 0..<4 {
                let (verifier, _) = try pid(pool, avoiding: written.worker)
                XCTAssertNotEqual(verifier, writer, "\(workers) workers")
            }
        }
    }

    func testAnOperationsErrorIsNotAWorkerFailure() throws {
        let pool = try makePool()
        let (before, _) = try pid(pool)
        XCTAssertEqual(
            failure { _ = try pool.perform(WorkerRequest("test.fail", payload: Data("no such box".utf8))) },
            .operationFailed("no such box"))
        XCTAssertEqual(
            failure { _ = try pool.perform(WorkerRequest("media.nothing")) }, .unknownOperation("media.nothing"))
        let (after, _) = try pid(pool)
        XCTAssertEqual(after, before)
    }

    func testAWorkerWritesToTheOutputItIsGivenAndStartsThreads() throws {
        let pool = try makePool()
        let input = try temporaryFile("copy me")
        let output = try temporaryFile("previous, longer contents")
        let reading = open(input.path, O_RDONLY | O_CLOEXEC)
        let writing = open(output.path, O_RDWR | O_CLOEXEC)
        defer {
            close(reading)
            close(writing)
        }
        let reply = try pool.perform(WorkerRequest("test.copy", descriptors: [reading, writing]))
        XCTAssertEqual(String(decoding: reply.payload, as: UTF8.self), "7")
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), "copy me")
        XCTAssertEqual(try pool.perform(WorkerRequest("test.thread")).payload, Data("joined".utf8))
        XCTAssertEqual(pool.workersStarted, 1)
    }

    func testWithoutSeccompThePoolSaysSo() throws {
        let pool = try makePool(environment: ["CONSENTGATE_WORKER_TEST_NO_SECCOMP": "1"])
        XCTAssertFalse(pool.sandboxed)
        XCTAssertTrue(pool.sandboxProblem?.contains("seccomp") ?? false)
        let opened = try pool.perform(WorkerRequest("test.open"))
        XCTAssertTrue(String(decoding: opened.payload, as: UTF8.self).hasPrefix("opened:"))
    }

    func testTestHooksNeedTheirSwitch() throws {
        var configuration = WorkerPool.Configuration(executable: try Self.executable(), workerCount: 1)
        configuration.environment = ["CONSENTGATE_WORKER_TEST_NO_SECCOMP": "1"]
        let pool = try WorkerPool(configuration: configuration)
        defer { pool.shutdown() }
        XCTAssertTrue(pool.sandboxed, "the no-seccomp switch is a test hook too")
        XCTAssertEqual(failure { _ = try pool.perform(WorkerRequest("test.open")) }, .unknownOperation("test.open"))
    }

    func testAWorkerThatCannotStartIsReported() throws {
        let configuration = WorkerPool.Configuration(executable: "/nonexistent/consentgate", workerCount: 1)
        let error = failure { _ = try WorkerPool(configuration: configuration) }
        guard case .failed(.couldNotStart) = error else { return XCTFail("\(String(describing: error))") }
    }

    func testOverhead() throws {
        let start = ContinuousClock.now
        let pool = try makePool(workers: 2)
        let started = ContinuousClock.now - start
        _ = try pool.perform(WorkerRequest("test.echo", payload: Data("x".utf8)))
        let count = 2000
        let loop = ContinuousClock.now
        for _ in 0..<count { _ = try pool.perform(WorkerRequest("test.echo", payload: Data("x".utf8))) }
        let perRequest = (ContinuousClock.now - loop) / count
        print("worker pool: start of 2 workers \(started), round trip of a tiny request \(perRequest)")
        XCTAssertLessThan(perRequest, .milliseconds(5))
        XCTAssertLessThan(started, .seconds(10))
    }
}
