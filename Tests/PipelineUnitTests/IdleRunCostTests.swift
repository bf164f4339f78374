import Foundation
import XCTest

@testable import Pipeline

/// Issue 28: the pieces an idle run's cost was cut with read what the slower code read, no less.
final class IdleRunCostTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-idle-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// The lists of a live publication's row read without the JSON parser give what the parser gives, and anything
    /// the plain reading is not sure of goes to the parser.
    func testListsReadWithoutTheParserEqualTheParsersReading() throws {
        let lists: [[String]] = [
            [], ["SCALE-PUB-00001"], ["a", "b", "c"], ["é ü 名前", "x y"], [""], ["", ""], ["a/b"], ["quote \" in"],
            ["back\\slash"], ["tab\there"], ["line\nbreak"], ["\u{7F}"], [String(repeating: "r", count: 5000)],
        ]
        for list in lists {
            let text = LiveState.encode(list)
            XCTAssertEqual(LiveState.decode(text), list, text)
            let parsed = (try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String]
            if let plain = LiveState.decodePlain(text) { XCTAssertEqual(plain, parsed, text) }
        }
        XCTAssertEqual(LiveState.decodePlain(#"["a","b"]"#), ["a", "b"])
        XCTAssertEqual(LiveState.decodePlain("[]"), [])
        // Escapes, spaces, other shapes: not read plainly (the parser reads them, or the row is unreadable).
        for text in [
            #"["a\/b"]"#, #"["a\"b"]"#, #"[ "a"]"#, #"["a", "b"]"#, #"["a",]"#, #"["a""b"]"#, #"["a"#, #"[a]"#,
            #"{"a":1}"#, #"["a",1]"#, "", "[", "]", "[\"a\tb\"]", #"["a"] "#,
        ] {
            XCTAssertNil(LiveState.decodePlain(text), text)
        }
        XCTAssertEqual(LiveState.decode(#"["a\/b", "c"]"#), ["a/b", "c"])
        XCTAssertEqual(LiveState.decode(#"["a",1]"#), [#"<unreadable: ["a",1]>"#])
    }

    /// The sweep looks a live publication's name up in the sorted listing of publish instead of stat'ing it.
    func testASortedListingIsSearchedByBytes() {
        let names = ["b.png", "a.jpg", "c", "a.jpg.x", "Z", "é.png", "a"].map { Array($0.utf8) }
            .sorted { $0.lexicographicallyPrecedes($1) }
        for name in names { XCTAssertTrue(Folders.sortedNames(names, contain: name), String(decoding: name, as: UTF8.self)) }
        for absent in ["", "a.jp", "a.jpg.", "b", "d", "z", "é", "\u{0}"] {
            XCTAssertFalse(Folders.sortedNames(names, contain: Array(absent.utf8)), absent)
        }
        XCTAssertFalse(Folders.sortedNames([], contain: Array("a".utf8)))
        XCTAssertTrue(Folders.sortedNames([[0xFF, 0xFE]], contain: [0xFF, 0xFE]), "names need not be UTF-8")
    }

    /// Listings are sorted by `memcmp` in the order the generic comparison gives.
    func testListingsAreSortedInByteOrder() {
        var generator = SystemRandomNumberGenerator()
        var names: [[UInt8]] = [[], [0], [0, 0], [0xFF], [0x61], [0x61, 0], [0x61, 0x62], [0x62]]
        for _ in 0..<2_000 {
            names.append((0..<Int.random(in: 0...6, using: &generator)).map { _ in UInt8.random(in: 0x5F...0x63) })
        }
        XCTAssertEqual(names.sorted(by: Directory.precedes), names.sorted { $0.lexicographicallyPrecedes($1) })
        for left in names.prefix(60) {
            for right in names.prefix(60) {
                XCTAssertEqual(Directory.precedes(left, right), left.lexicographicallyPrecedes(right), "\(left) \(right)")
            }
        }
    }

    /// A temporary is recognised from the raw name as the string test did.
    func testTemporariesAreRecognisedByTheirRawNames() {
        for name in [".x.cg-stale.tmp", ".cg-.tmp", "..cg-a.tmp", ".a.cg-b.c.tmp"] {
            XCTAssertTrue(Runner.isTemporaryName(Array(name.utf8)), name)
        }
        for name in ["x.cg-stale.tmp", ".x.cg-stale.tmp2", ".x.cg_stale.tmp", ".tmp", ".cg-", "", ".x.tmp", "a.png"] {
            XCTAssertFalse(Runner.isTemporaryName(Array(name.utf8)), name)
        }
        XCTAssertTrue(Runner.isTemporaryName([0x2E, 0xFF] + Array(".cg-1.tmp".utf8)), "a name that is not UTF-8")
    }

    /// The names and the fingerprints a run reads of the live publications (without their rows) are those of the
    /// rows, per pipeline.
    func testNamesAndFingerprintsOfLivePublicationsAreThoseOfTheRows() throws {
        let ledger: any LedgerStore = try Ledger(path: root.appendingPathComponent("l.sqlite").path)
        var batch: [NewLedgerEvent] = []
        for index in 0..<1_203 {
            let asset = String(format: "%032x", index)
            batch.append(
                try NewLedgerEvent(
                    pipeline: index % 3 == 0 ? "other" : "web", kind: .published, asset: asset,
                    fileSHA256: "f\(index)", contentSHA256: index % 7 == 0 ? nil : "c\(index)",
                    detail: ["published_name": asset + ".png", "records": ["R\(index)"]]))
        }
        for index in stride(from: 1, to: 1_203, by: 5) {
            batch.append(
                try NewLedgerEvent(
                    pipeline: "web", kind: .retracted, asset: String(format: "%032x", index), fileSHA256: nil,
                    contentSHA256: nil, detail: [:]))
        }
        try ledger.append(batch: batch)
        for pipeline in ["web", "other", "none"] {
            var rows: [Ledger.Publication] = []
            var after: String? = nil
            while true {
                let page = try ledger.keptLivePublications(pipeline: pipeline, after: after, limit: 100)
                rows += page
                guard page.count == 100 else { break }
                after = page.last?.name
            }
            var names: [String] = []
            after = nil
            while true {
                let page = try ledger.keptLiveNames(pipeline: pipeline, after: after, limit: 100)
                names += page
                guard page.count == 100 else { break }
                after = page.last
            }
            XCTAssertEqual(names, rows.map(\.name), pipeline)
            XCTAssertEqual(try ledger.keptLiveContents(pipeline: pipeline), Set(rows.compactMap(\.contentSHA256)))
            let replayed = try ledger.replayedLivePublications().values.filter { $0.pipeline == pipeline }
            XCTAssertEqual(names, replayed.map(\.name).sorted(), pipeline)
            XCTAssertEqual(rows.first?.records.count, pipeline == "none" ? nil : 1)
        }
    }
}
