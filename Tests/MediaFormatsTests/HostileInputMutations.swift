import ByteKit
import Foundation
import TestSupport
import XCTest
@testable import MediaFormats

/// The byte mutations of the random-corruption test.
extension HostileInputTests {
    static func mutate(_ original: [UInt8], _ generator: inout SplitMix) -> [UInt8] {
        var bytes = original
        func position() -> Int { bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count)) }
        // Most structure is near the start (headers, tables); aim half the mutations at the first 4 KB.
        func early() -> Int { min(position(), Int(generator.next() % 4096)) }
        for _ in 0..<Int(1 + generator.next() % 4) {
            switch generator.next() % 6 {
            case 0:
                if !bytes.isEmpty { bytes[position()] = UInt8(truncatingIfNeeded: generator.next()) }
            case 1:
                if !bytes.isEmpty { bytes[early()] = UInt8(truncatingIfNeeded: generator.next()) }
            case 2:
                bytes = Array(bytes.prefix(position()))
            case 3:
                let count = Int(generator.next() % 16)
                bytes.insert(
                    contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, at: early())
            case 4:
                let values: [UInt32] = [0, 1, 7, 8, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
                let value = values[Int(generator.next() % UInt64(values.count))]
                let at = early()
                for index in 0..<4 where at + index < bytes.count {
                    bytes[at + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index))
                }
            default:
                let at = early()
                let count = min(Int(generator.next() % 64), bytes.count - at)
                if count > 0 { bytes.removeSubrange(at..<(at + count)) }
            }
        }
        return bytes
    }
}
