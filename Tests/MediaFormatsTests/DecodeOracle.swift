import ByteKit
import Foundation
import TestSupport
import XCTest

@testable import MediaFormats

/// ffmpeg as the judge of a published movie: the first video and the first audio stream must decode to the same
/// frames and samples (framemd5) before and after `consentgate strip`.
enum DecodeOracle {
    static func framemd5(_ ffmpeg: String, _ path: String) throws -> Fixtures.Outcome {
        try Fixtures.run(
            ffmpeg, ["-v", "error", "-i", path, "-map", "0:v:0?", "-map", "0:a:0?", "-f", "framemd5", "-"])
    }

    /// Strips `input` into `output` with the built executable; returns its outcome.
    static func strip(_ input: URL, _ output: URL) throws -> Fixtures.Outcome {
        try Fixtures.run(try Fixtures.consentgate, ["strip", input.path, "-o", output.path])
    }

    /// Asserts `output` decodes as `input` does, audio and video, and that the decode is not empty.
    static func assertSameDecode(
        _ ffmpeg: String, _ input: URL, _ output: URL, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let before = try framemd5(ffmpeg, input.path)
        let after = try framemd5(ffmpeg, output.path)
        XCTAssertEqual(
            before.status, 0, "ffmpeg cannot decode \(input.lastPathComponent): \(before.stderr)", file: file,
            line: line)
        XCTAssertTrue(
            before.text.split(separator: "\n").contains { !$0.hasPrefix("#") },
            "ffmpeg decoded no frame of \(input.lastPathComponent)",
            file: file, line: line)
        XCTAssertEqual(
            after.status, 0, "ffmpeg cannot decode the stripped \(input.lastPathComponent): \(after.stderr)",
            file: file, line: line)
        XCTAssertEqual(
            before.text, after.text, "\(input.lastPathComponent) decodes differently after strip", file: file,
            line: line)
    }

    /// Generates `name` in `folder` with ffmpeg from lavfi sources (a 1 s test picture and a sine tone); skips with
    /// a message when ffmpeg, or the encoder the arguments name, is missing.
    static func generate(_ ffmpeg: String, in folder: URL, _ name: String, _ arguments: [String]) throws -> URL {
        let output = folder.appendingPathComponent(name)
        let sources = [
            "-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=10", "-f", "lavfi", "-i", "sine=d=1:r=8000:f=440",
        ]
        let run = try Fixtures.run(ffmpeg, ["-v", "error", "-y"] + sources + arguments + [output.path])
        guard run.status == 0 else {
            if run.stderr.contains("Unknown encoder") || run.stderr.contains("not currently supported in container") {
                throw XCTSkip("this ffmpeg cannot write \(name): \(run.stderr)")
            }
            XCTFail("ffmpeg failed to write \(name): \(run.stderr)")
            throw XCTSkip("no \(name)")
        }
        return output
    }

    /// The payload of the first box of `type` in `bytes` (found by its four-character code and checked size).
    static func payload(of type: String, in bytes: [UInt8]) -> [UInt8]? {
        let code = Array(type.utf8)
        guard bytes.count >= 8 else { return nil }
        for at in 4..<(bytes.count - 4) where bytes[at..<(at + 4)].elementsEqual(code) {
            let size = Bytes.be(bytes, at - 4, 4)
            guard size >= 8, at - 4 + size <= bytes.count else { continue }
            return Array(bytes[(at + 4)..<(at - 4 + size)])
        }
        return nil
    }
}

/// An MP4 holding one track of integer PCM (`ipcm`, ISO/IEC 23003-5), mono 16-bit at 1000 Hz, one second, its
/// samples in a pattern whose two byte orders decode differently. Debian 12's ffmpeg (5.1) reads it but cannot write it.
enum SyntheticPCM {
    static let samples = 1000

    static func movie(littleEndian: Bool = true, withConfiguration: Bool = true) -> [UInt8] {
        typealias I = SyntheticISO
        var media: [UInt8] = []
        for index in 0..<samples {
            let value = UInt16(bitPattern: Int16(((index * 37) % 2000 - 1000) * 13))
            media +=
                littleEndian ? [UInt8(value & 0xFF), UInt8(value >> 8)] : [UInt8(value >> 8), UInt8(value & 0xFF)]
        }
        let fileType = I.box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isomiso2mp41".utf8))
        let mediaOffset = fileType.count + 8
        // pcmC: little-endian flag, 16 bits; chnl: channel-structured, defined layout 1 (mono), no omitted channel.
        let configuration =
            (withConfiguration ? I.full("pcmC", [littleEndian ? 1 : 0, 16]) : [])
            + I.full("chnl", [1, 1] + I.zeros(8))
        let entry = I.box(
            "ipcm",
            I.zeros(6) + [0, 1] + I.zeros(8) + I.be(1, 2) + I.be(16, 2) + I.zeros(4) + I.be(1000 << 16, 4)
                + configuration)
        let stbl = I.box(
            "stbl",
            I.full("stsd", I.be(1, 4) + entry) + I.full("stts", I.be(1, 4) + I.be(samples, 4) + I.be(1, 4))
                + I.full("stsc", I.be(1, 4) + I.be(1, 4) + I.be(samples, 4) + I.be(1, 4))
                + I.full("stsz", I.be(2, 4) + I.be(samples, 4)) + I.full("stco", I.be(1, 4) + I.be(mediaOffset, 4)))
        let dinf = I.box("dinf", I.full("dref", I.be(1, 4) + I.full("url ", [], flags: 1)))
        let minf = I.box("minf", I.full("smhd", I.zeros(4)) + dinf + stbl)
        let mdia = I.box(
            "mdia",
            I.full("mdhd", I.zeros(8) + I.be(1000, 4) + I.be(samples, 4) + [0x55, 0xC4, 0, 0])
                + I.full("hdlr", I.zeros(4) + Array("soun".utf8) + I.zeros(12) + [0]) + minf)
        let matrix = [0, 1, 0, 0] + I.zeros(12) + [0, 1, 0, 0] + I.zeros(12) + [0x40, 0, 0, 0]
        let tkhd = I.full(
            "tkhd",
            I.zeros(8) + I.be(1, 4) + I.zeros(4) + I.be(samples, 4) + I.zeros(8) + [0, 0, 0, 0, 1, 0, 0, 0] + matrix
                + I.zeros(8), flags: 3)
        let mvhd = I.full(
            "mvhd",
            I.zeros(8) + I.be(1000, 4) + I.be(samples, 4) + [0, 1, 0, 0, 1, 0] + I.zeros(10) + matrix + I.zeros(24)
                + I.be(2, 4))
        return fileType + I.box("mdat", media) + I.box("moov", mvhd + I.box("trak", tkhd + mdia))
    }
}
