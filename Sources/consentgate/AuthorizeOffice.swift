import ByteKit
import ConsentRecords
import Foundation
import Pipeline

/// Where `authorize` writes and what the office supplies: the output folder, the office's defaults file and the
/// evidence folder, from the options or the pipeline file (`--pipeline`: authorizations, office_defaults:,
/// evidence:), and the signed form's bytes.
struct OfficeContext {
    var out: String
    var defaults = OfficeDefaults()
    var evidence: String?
    var form: (path: String, bytes: [UInt8])?

    /// Stores the signed form in the evidence folder (before the record that names it is written).
    func storeForm() throws(RecordError) {
        guard let form, let evidence else { return }
        let hash = try EvidenceFolder.store(form.bytes, from: form.path, in: evidence)
        print("stored the signed form as \(Escape.display(EvidenceFolder.find(hash, in: evidence) ?? hash))")
    }
}

extension Authorize {
    func officeContext() throws(RecordError) -> OfficeContext {
        var config: PipelineConfig? = nil
        if let pipeline {
            do { config = try PipelineConfig.load(path: pipeline) } catch { throw RecordError(reason: "\(error)") }
        }
        guard let folder = out ?? config?.authorizations else {
            throw RecordError(reason: "give --out DIR (the authorizations folder) or --pipeline FILE")
        }
        var context = OfficeContext(out: folder)
        if let file = defaults ?? config?.office.defaults { context.defaults = try OfficeDefaults.load(path: file) }
        context.evidence = evidenceFolder ?? config?.office.evidence
        if let formDocument {
            guard let bytes = try? FileIO.readFile(atPath: formDocument, limit: 1 << 30) else {
                throw RecordError(reason: "cannot read \(formDocument)")
            }
            context.form = (formDocument, bytes)
        } else if evidenceFolder != nil {
            throw RecordError(reason: "--evidence-folder stores the signed form: give it with --form FILE")
        }
        return context
    }
}
