import Foundation
import XCTest

/// What every test target shares: the package's fixtures found relative to this file (SampleMedia, ../shared),
/// outside tools found or skipped, programs run with a time limit, and the built `consentgate` executable.
public enum Fixtures {
    /// The package: this file is Tests/TestSupport/Fixtures.swift.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    public static let sampleMedia = packageRoot.appendingPathComponent("SampleMedia")
    public static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    public static let corpus = shared.appendingPathComponent("corpus")
    public static let leakcheck = shared.appendingPathComponent("tools/leakcheck")

    public static func bytes(_ url: URL) throws -> [UInt8] { Array(try Data(contentsOf: url)) }

    public static func sample(_ name: String) throws -> [UInt8] { try bytes(sampleMedia.appendingPathComponent(name)) }

    /// The shared corpus, or a skip with a clear message where it is absent (a user's clone has none).
    public static func requireCorpus() throws -> URL {
        guard FileManager.default.fileExists(atPath: corpus.appendingPathComponent("SOURCES.tsv").path) else {
            throw XCTSkip("../shared/corpus is not beside this checkout; corpus tests run in CI only")
        }
        return corpus
    }

    public static func requireTool(_ name: String) throws -> String {
        for folder in ["/usr/bin", "/usr/local/bin", "/bin"] {
            let path = folder + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("\(name) is not installed (Scripts/test installs it)")
    }

    public static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cg-test-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public struct Outcome {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        public var text: String { String(decoding: stdout, as: UTF8.self) }
        /// Everything the program printed, standard output then standard error.
        public var output: String { text + stderr }
    }

    /// Runs a program to completion, with a time limit so a hang fails the test instead of stalling CI.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String], timeout: TimeInterval = 300) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cg-out-" + UUID().uuidString)
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("cg-err-" + UUID().uuidString)
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                XCTFail("\(program) \(arguments.prefix(3)) did not finish within \(timeout) s")
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: try Data(contentsOf: out),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    /// The built `consentgate` executable beside the test bundle. `swift test` alone does not rebuild
    /// executables, so a binary older than the sources fails loudly instead of testing stale code.
    public static var consentgate: String {
        get throws {
            let folder = (Bundle.main.executableURL ?? Bundle.main.bundleURL).deletingLastPathComponent()
            let path = folder.appendingPathComponent("consentgate").path
            let manager = FileManager.default
            guard let built = try? manager.attributesOfItem(atPath: path)[.modificationDate] as? Date else {
                throw Stale(message: "\(path) is missing: run `swift build --build-tests` first (Scripts/test does)")
            }
            let sources = packageRoot.appendingPathComponent("Sources")
            for relative in manager.subpaths(atPath: sources.path) ?? [] {
                let file = sources.appendingPathComponent(relative)
                let attributes = try? manager.attributesOfItem(atPath: file.path)
                guard attributes?[.type] as? FileAttributeType == .typeRegular else { continue }
                if let changed = attributes?[.modificationDate] as? Date, changed > built {
                    throw Stale(
                        message:
                            "\(path) is older than \(file.lastPathComponent): run `swift build --build-tests` first (Scripts/test does)"
                    )
                }
            }
            return path
        }
    }

    public struct Stale: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
