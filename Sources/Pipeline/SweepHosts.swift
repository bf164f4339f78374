import ByteKit
import Foundation

/// The sweep beside other hosts' deliveries (PostgreSQL ledger).
extension Runner {
    /// A file in publish that the ledger's publications (read after the listing) do not know is not taken for a
    /// stranger while it may be a delivery in progress: a host publishes by renaming its copy into publish and
    /// then committing its `published` event, so between the two the file is there and the event is not. The
    /// file is passed over (the next sweep looks again) when its name is an asset's and that asset's original is
    /// still in the work folder, some host holds a live claim on it, or its publication has been recorded since
    /// the listing. Only a live claim keeps it: a host that died with its file there loses the claim after the
    /// lease, and then recovery (its original in work) or the sweep (nothing left to deliver it) settles it.
    ///
    /// A file that merely borrows a live asset's id (`ASSET.anything.jpg` beside the live `ASSET.jpg`) is never in
    /// flight: that asset is published already, under its own name, and a recorded publication keeps only the name
    /// it recorded.
    func inFlight(
        _ name: String, lookup: LiveLookup, hosts: (any HostCoordination)?, ledger: (any LedgerStore)?
    ) throws(PipelineError) -> Bool {
        guard let hosts, let ledger else { return false }
        let asset = String(name.prefix(32))
        guard Runner.isAssetID(asset), name.count > 32, name[name.index(name.startIndex, offsetBy: 32)] == "." else {
            return false
        }
        // Looked up after the name was (a batch at a time): a publication recorded since under this very name is
        // this file's, published meanwhile (the next sweep checks it); under another name, this file borrows its id.
        if let publication = try lookup.publication(asset: asset) { return publication.name == name }
        if try hosts.deliveryInFlight(pipeline: config.name, asset: asset) || FileIO.exists(config.work + "/" + asset) {
            return true
        }
        guard let last = try ledger.lastEvent(asset: asset, kinds: [.published, .released, .retracted]),
            last.eventKind != .retracted
        else { return false }
        let detail = (try? JSONSerialization.jsonObject(with: Data(last.detail.utf8))) as? [String: Any] ?? [:]
        return detail["published_name"] as? String == name
    }
}
