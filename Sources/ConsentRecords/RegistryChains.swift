import Crypto
import Dispatch
import Foundation
import Synchronization

/// Supersedes chains and the indexes that answer "which records name this picture".
extension Registry {
    /// One `supersedes` link (folded ids): `id` replaces `supersedes`.
    public struct Link: Sendable, Hashable {
        public var id: String
        public var supersedes: String

        public init(id: String, supersedes: String) {
            self.id = Registry.fold(id)
            self.supersedes = Registry.fold(supersedes)
        }
    }

    /// Chains: connected parts of the supersedes links, walked with a visited set (a cycle ends the walk); then
    /// which invalid records block which authorizations through them.
    mutating func buildChains() {
        var neighbours: [String: Set<String>] = [:]
        for link in links {
            neighbours[link.id, default: []].insert(link.supersedes)
            neighbours[link.supersedes, default: []].insert(link.id)
        }
        chains = [:]
        for start in neighbours.keys where chains[start] == nil {
            var seen: Set<String> = [start]
            var queue = [start]
            while let id = queue.popLast() {
                for next in neighbours[id] ?? [] where seen.insert(next).inserted { queue.append(next) }
            }
            let members = seen.sorted()
            for id in members { chains[id] = members }
        }
        blockers = [:]
        for (index, bad) in invalid.enumerated() {
            var blocked = Set<String>()
            for id in bad.blocks { blocked.formUnion(chain(of: id)) }
            for id in blocked { blockers[id, default: []].append(index) }
        }
    }

    /// The most people in the frame any of `candidates` declares for the picture (nil: none declares a number).
    public func peopleInFrame(of candidates: [Authorization], presentedSHA256: String?, fileSHA256: String?) -> Int? {
        var most: Int? = nil
        for candidate in candidates {
            let keys = [
                presentedSHA256.map { "p:\(candidate.id)\n\($0)" }, fileSHA256.map { "f:\(candidate.id)\n\($0)" },
            ]
            for key in keys.compactMap({ $0 }) {
                if let people = peopleInFrame[key] { most = max(most ?? people, people) }
            }
        }
        return most
    }

    /// Verified authorizations that list the asset by `presented_sha256` or `file_sha256`.
    public func authorizations(presentedSHA256: String?, fileSHA256: String?) -> [Authorization] {
        var ids = Set<String>()
        if let presentedSHA256 { ids.formUnion(byPresented[presentedSHA256] ?? []) }
        if let fileSHA256 { ids.formUnion(byFile[fileSHA256] ?? []) }
        return records(ids)
    }

    /// Verified authorizations that list the asset only by its old-definition `content_sha256`: they approve
    /// nothing (they were signed against a fingerprint blind to edit lists, crops and colour).
    public func oldDefinitionAuthorizations(contentSHA256: String?) -> [Authorization] {
        guard let contentSHA256 else { return [] }
        return records(Set(byOldContent[contentSHA256] ?? []))
    }

    func records(_ ids: Set<String>) -> [Authorization] {
        ids.sorted().compactMap {
            if case .authorization(let a)? = authorizations[$0]?.record { return a }
            return nil
        }
    }

    /// Invalid records that name the asset.
    public func invalidRecords(contentSHA256s: [String?], fileSHA256: String?) -> [InvalidRecord] {
        let hashes = contentSHA256s.compactMap { $0 }
        return invalid.filter { record in
            hashes.contains { record.contentSHA256s.contains($0) }
                || record.fileSHA256s.contains(fileSHA256 ?? "")
        }
    }
}
