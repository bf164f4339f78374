internal import CSandboxShims
import Foundation

/// Operations that make a worker misbehave on purpose, so that tests can prove the sandbox and the pool's
/// containment. The `worker` subcommand registers them only when `CONSENTGATE_WORKER_TEST_HOOKS=1` is set.
public enum WorkerTestHooks {
    /// The hooks by operation name.
    public static let handlers: [String: WorkerMain.Handler] = [
        "test.echo": echo, "test.copy": copy, "test.pid": pid, "test.open": openFile, "test.crash": crash,
        "test.spin": spin, "test.allocate": allocate, "test.thread": thread, "test.fail": fail,
        "test.garbage": garbage, "test.forbidden": forbidden,
        // Answers like echo, but the worker keeps the descriptors it was handed (see WorkerMain).
        "test.keep": echo,
    ]

    struct HookError: Error, CustomStringConvertible {
        var description: String
    }

    /// The payload, then the bytes of the first descriptor (fstat for its size, then pread).
    static let echo: WorkerMain.Handler = { payload, descriptors in
        guard let descriptor = descriptors.first else { return payload }
        return payload + Data(try readAll(descriptor))
    }

    /// Copies the first descriptor into the second (ftruncate + pwrite): the output path of a sanitizer.
    static let copy: WorkerMain.Handler = { _, descriptors in
        guard descriptors.count == 2 else { throw HookError(description: "test.copy wants two descriptors") }
        let bytes = try readAll(descriptors[0])
        guard ftruncate(descriptors[1], 0) == 0 else { throw HookError(description: "ftruncate failed") }
        let written = bytes.withUnsafeBytes { pwrite(descriptors[1], $0.baseAddress, $0.count, 0) }
        guard written == bytes.count else { throw HookError(description: "pwrite failed") }
        return Data("\(written)".utf8)
    }

    static let pid: WorkerMain.Handler = { _, _ in Data("\(getpid())".utf8) }

    /// Must be killed by the seccomp filter; answers the file's first bytes where there is no filter.
    static let openFile: WorkerMain.Handler = { _, _ in
        let descriptor = open("/etc/hostname", O_RDONLY)
        guard descriptor >= 0 else { throw HookError(description: "open failed with errno \(errno)") }
        defer { close(descriptor) }
        return Data("opened:".utf8) + Data(try readAll(descriptor))
    }

    /// Makes the forbidden call the payload names (`stat`, `fork`, `exec`, `socket`, `kill:PID`, `unlink`,
    /// `rename`, `chdir`, `dup`, `ioctl`, `exec-mapping`): each must be killed by the filter.
    static let forbidden: WorkerMain.Handler = { payload, _ in
        let call = String(decoding: payload, as: UTF8.self)
        var result: Int = 0
        switch call {
        case "stat":
            var info = stat()
            result = Int(stat("/etc/hostname", &info))
        case "fork": result = Int(fork())
        case "exec": result = Int(execv("/bin/true", [strdup("true"), nil]))
        case "socket": result = Int(socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0))
        case "unlink": result = Int(unlink("/tmp/consentgate-sandbox-test-nothing"))
        case "rename": result = Int(rename("/tmp/consentgate-sandbox-a", "/tmp/consentgate-sandbox-b"))
        case "chdir": result = Int(chdir("/"))
        case "dup": result = Int(dup(0))
        case "ioctl": result = Int(ioctl(0, UInt(TCGETS)))
        case "exec-mapping":
            result = Int(bitPattern: mmap(nil, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        case "file-mapping":
            // A handed file mapped shared and writable would outlive its descriptor: only anonymous memory.
            result = Int(bitPattern: mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 2, 0))
        default:
            guard call.hasPrefix("kill:"), let target = Int32(call.dropFirst(5)) else {
                throw HookError(description: "unknown call \(call)")
            }
            result = Int(kill(target, 0))
        }
        return Data("\(call) returned \(result)".utf8)
    }

    static let crash: WorkerMain.Handler = { _, _ in
        cgsandbox_test_crash()
        return Data()
    }

    /// Spins until the payload's number of seconds of CPU have passed (forever without a payload).
    static let spin: WorkerMain.Handler = { payload, _ in
        let seconds = Double(String(decoding: payload, as: UTF8.self)) ?? .infinity
        let start = ContinuousClock.now
        var counter: UInt64 = 0
        while ContinuousClock.now - start < .seconds(min(seconds, 1e9)) { counter &+= 1 }
        return Data("\(counter)".utf8)
    }

    /// Allocates and touches 16 MiB blocks until the address-space limit ends the process.
    static let allocate: WorkerMain.Handler = { payload, _ in
        let limitMiB = Int(String(decoding: payload, as: UTF8.self)) ?? Int.max
        var blocks: [UnsafeMutableRawPointer] = []
        while blocks.count * 16 < limitMiB {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 16 << 20, alignment: 16)
            memset(block, 1, 16 << 20)
            blocks.append(block)
        }
        defer { for block in blocks { block.deallocate() } }
        return Data("\(blocks.count * 16)".utf8)
    }

    /// Starts a thread and joins it: threads are allowed (clone with CLONE_THREAD), processes are not.
    static let thread: WorkerMain.Handler = { _, _ in
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { done.signal() }
        thread.start()
        done.wait()
        return Data("joined".utf8)
    }

    /// Writes a frame header announcing 2 GiB onto the socket before its reply: garbage to the pool.
    static let garbage: WorkerMain.Handler = { _, _ in
        let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0x7F]
        _ = header.withUnsafeBytes { write(WorkerMain.socketDescriptor, $0.baseAddress, $0.count) }
        return Data("fine".utf8)
    }

    static let fail: WorkerMain.Handler = { payload, _ in
        throw HookError(description: String(decoding: payload, as: UTF8.self))
    }

    static func readAll(_ descriptor: Int32) throws -> [UInt8] {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw HookError(description: "fstat failed: errno \(errno)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count == bytes.count else { throw HookError(description: "pread failed") }
        return bytes
    }
}
