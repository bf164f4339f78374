import Foundation
import Yams

/// The privacy office's places a pipeline may name (SPEC §1, docs/privacy-office.md):
/// - `evidence:` the signed forms and revocation letters records name, kept by SHA-256 (`EvidenceFolder`);
/// - `office_export:` the folder `review --export` writes, refreshed at the end of each run (`OfficeExport`);
/// - `office_defaults:` the office's defaults file (`OfficeDefaults`) that `authorize` and the office app read.
public struct OfficePlaces: Sendable, Equatable {
    public var evidence: String? = nil
    public var export: String? = nil
    public var defaults: String? = nil
    public init() {}
}

extension PipelineConfig {
    /// Reads the office's keys. None may lie in (or hold) a folder ConsentGate moves files through: previews in
    /// the publish folder would be published, a form in the inbox would be taken as a picture.
    mutating func readOfficeKeys(
        _ top: [String: Node], resolve: (String) -> String, fail: (String) -> PipelineError
    ) throws(PipelineError) {
        func path(_ key: String) throws(PipelineError) -> String? {
            guard let node = top[key] else { return nil }
            guard let text = node.scalar?.string, !text.isEmpty else { throw fail("\(key) must be a path (text)") }
            return resolve(text)
        }
        office.evidence = try path("evidence")
        office.export = try path("office_export")
        office.defaults = try path("office_defaults")
        let own: [(String, String?)] = [("evidence", office.evidence), ("office_export", office.export)]
        for (key, value) in own {
            guard let value else { continue }
            let mine = PipelineConfig.resolveLinks(value)
            for (other, place) in places {
                let theirs = PipelineConfig.resolveLinks(place)
                if mine == theirs || mine.hasPrefix(theirs + "/") || theirs.hasPrefix(mine + "/") {
                    throw fail("\(key) (\(value)) and \(other) (\(place)) must be distinct and neither inside the other")
                }
            }
        }
        if let evidence = office.evidence, let export = office.export,
            PipelineConfig.resolveLinks(evidence) == PipelineConfig.resolveLinks(export)
        {
            throw fail("evidence and office_export must be different folders")
        }
    }
}
