internal import CSandboxShims
import Foundation

/// The worker side: what the hidden `consentgate worker` subcommand runs. It locks itself in (resource limits,
/// no_new_privs, the seccomp filter) before it reads a single request, then answers requests until its socket
/// closes. Media operations are registered as handlers, one dictionary entry each.
public enum WorkerMain {
    /// One operation: the request's payload and the descriptors it passed (closed by the worker afterwards)
    /// in, the reply payload out. A thrown error becomes an error reply; the worker lives on.
    public typealias Handler = @Sendable (_ payload: Data, _ descriptors: [Int32]) throws -> Data

    /// The descriptor of the socket to the pool (the pool's spawn puts it there).
    public static let socketDescriptor: Int32 = 3

    /// Locks the process in, tells the pool whether the sandbox holds, and serves requests until the pool
    /// closes the socket. `skipFilterForTesting` leaves the seccomp filter out as if the kernel had none.
    public static func run(
        handlers: [String: Handler], limits: WorkerLimits, skipFilterForTesting: Bool = false
    ) -> Never {
        let socket = socketDescriptor
        var kernelLimits = cgsandbox_limits(
            address_space_bytes: limits.memoryBytes, open_files: limits.openFiles,
            file_size_bytes: limits.fileSizeBytes, cpu_seconds: limits.cpuSecondsPerRequest)
        let limited = cgsandbox_apply_limits(&kernelLimits)
        guard limited == 0 else { die("cannot set the resource limits: \(errorText(limited))") }
        var problem: String?
        let noNewPrivileges = cgsandbox_no_new_privs()
        if noNewPrivileges != 0 {
            problem = "no_new_privs is not available: \(errorText(noNewPrivileges))"
        } else if skipFilterForTesting {
            problem = "the seccomp filter was left out for a test"
        } else {
            let filtered = cgsandbox_install_filter(socket)
            if [-EINVAL, -ENOSYS, -EOPNOTSUPP].contains(filtered) {
                problem = "the kernel offers no seccomp filter: \(errorText(filtered))"
            } else if filtered != 0 {
                die("cannot install the seccomp filter: \(errorText(filtered))")
            }
        }
        // From here on, any system call outside the allowlist kills this process.
        let hello = problem.map { "sandboxed=0;problem=" + $0 } ?? "sandboxed=1"
        guard send(Wire.reply(.hello, Array(hello.utf8)), on: socket) else { _exit(0) }
        while let (body, descriptors) = receive(on: socket) {
            let reply = answer(body, descriptors, handlers)
            // A test hook (registered only in test mode) plays the worker that keeps what it was handed.
            let keeps = handlers["test.keep"] != nil && Wire.parseRequest(body)?.0 == "test.keep"
            if !keeps { for descriptor in descriptors { close(descriptor) } }
            guard send(reply, on: socket) else { _exit(0) }
        }
        _exit(0)
    }

    private static func answer(_ body: [UInt8], _ descriptors: [Int32], _ handlers: [String: Handler]) -> [UInt8] {
        guard let (operation, payload) = Wire.parseRequest(body) else { die("a malformed request") }
        guard let handler = handlers[operation] else { return Wire.reply(.unknownOperation, Array(operation.utf8)) }
        do {
            return Wire.reply(.ok, try handler(Data(payload), descriptors))
        } catch {
            return Wire.reply(.operationFailed, Array(String(describing: error).utf8))
        }
    }

    /// One request frame and every descriptor that came with it; nil when the pool closed the socket.
    private static func receive(on socket: Int32) -> ([UInt8], [Int32])? {
        var frame: [UInt8] = []
        var descriptors: [Int32] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var passed = [Int32](repeating: -1, count: Wire.descriptorLimit)
        while frame.count < 4 || frame.count < 4 + Wire.length(frame[...]) {
            if frame.count >= 4 && Wire.length(frame[...]) > Wire.requestLimit { die("a request over the limit") }
            var count: Int32 = 0
            // The whole frame in one recvmsg where it fits: the pool sends one request and waits for its reply.
            let wanted = frame.count < 4 ? chunk.count : 4 + Wire.length(frame[...]) - frame.count
            let received = chunk.withUnsafeMutableBytes { bytes in
                passed.withUnsafeMutableBufferPointer { fds in
                    cgsandbox_receive(
                        socket, bytes.baseAddress, min(wanted, bytes.count), fds.baseAddress, Int32(fds.count),
                        &count, 0)
                }
            }
            descriptors += passed.prefix(Int(count))
            if received == 0 { return nil }
            guard received > 0 else { die("cannot receive a request (errno \(-received))") }
            frame += chunk.prefix(received)
        }
        guard frame.count == 4 + Wire.length(frame[...]) else { die("bytes after a request") }
        return (Array(frame.dropFirst(4)), descriptors)
    }

    private static func send(_ bytes: [UInt8], on socket: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                cgsandbox_send(socket, raw.baseAddress! + offset, raw.count - offset, nil, 0, 0)
            }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    private static func die(_ message: String) -> Never {
        let line = Array("consentgate worker: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        _exit(70)
    }
}

func errorText(_ negativeErrno: Int32) -> String {
    String(cString: strerror(-negativeErrno))
}
