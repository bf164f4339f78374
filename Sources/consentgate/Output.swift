import ArgumentParser
import ByteKit
import Foundation
import MediaFormats

/// Output helpers shared by the subcommands: JSON on stdout, messages on stderr.
enum Output {
    static func json<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    static func error(_ text: String, terminator: String = "\n") {
        fflush(nil)  // keep stdout and stderr lines in order
        FileHandle.standardError.write(Data((text + terminator).utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    /// Reads a file for processing with the limits, as a MediaError on failure.
    static func read(_ path: String, limits: MediaLimits) throws(MediaError) -> [UInt8] {
        try FileIO.readFile(atPath: path, limit: limits.maxFileBytes)
    }
}

/// Limits a user may tighten or loosen on the command line.
struct LimitOptions: ParsableArguments {
    @Option(help: "Refuse pictures with more pixels than this (width × height).")
    var maxPixels: UInt64 = MediaLimits().maxPixels

    @Option(help: "Refuse files larger than this many bytes.")
    var maxBytes: Int = MediaLimits().maxFileBytes

    var limits: MediaLimits {
        var limits = MediaLimits()
        limits.maxPixels = maxPixels
        limits.maxFileBytes = maxBytes
        return limits
    }
}
