// consentgate-bench: prepares inputs for the benchmarks in Scripts/ (timing is hyperfine's job).
//
//   consentgate-bench make-records --count N --dir DIR
//   consentgate-bench append-history --ledger LEDGER.sqlite --pipeline NAME --events N
//
// make-records writes N signed synthetic authorizations (random fingerprints, pseudonymous subjects) into
// DIR/authorizations, the signing key's public half as DIR/bench.pub and a trust file DIR/trust.yml. The key is
// generated for the run and thrown away; nothing here is real data.
//
// append-history appends N events to an existing SQLite ledger through the ledger's own writer (hash-chained,
// state tables kept, 1000 to a transaction): publications of synthetic pictures long gone, each published and
// then retracted (`missing_from_publish`), the history a gate gathers over years. Nothing becomes live.
//
//   consentgate-bench faces FILE [--runs N] [--min-face-pixels P]
//
// Times the face detector (decode to its working size, detection) on FILE in this process, N times, and prints
// the faces found and the mean, best and worst milliseconds (Scripts/benchmark-faces).
import ConsentRecords
import Foundation
import Pipeline

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("consentgate-bench: \(message)\n".utf8))
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func randomHash() -> String {
    (0..<32).map { _ in
        let byte = UInt8.random(in: 0...255)
        return (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }.joined()
}

switch arguments.first {
case "faces":
    FacesBench.run(Array(arguments.dropFirst()))
case "make-records":
    guard let countText = option("--count"), let count = Int(countText), count > 0, let folder = option("--dir") else {
        fail("usage: consentgate-bench make-records --count N --dir DIR")
    }
    makeRecords(count: count, folder: folder)
case "append-history":
    guard let path = option("--ledger"), let pipeline = option("--pipeline"), let countText = option("--events"),
        let count = Int(countText), count > 0
    else { fail("usage: consentgate-bench append-history --ledger LEDGER.sqlite --pipeline NAME --events N") }
    // Pairs: every publication of the history is retracted again.
    appendHistory(ledger: path, pipeline: pipeline, events: count - count % 2)
default:
    fail(
        "usage: consentgate-bench make-records --count N --dir DIR | append-history --ledger L --pipeline P --events N"
            + " | faces FILE [--runs N] [--min-face-pixels P]")
}

func makeRecords(count: Int, folder: String) {
    let records = (folder as NSString).appendingPathComponent("authorizations")
    do {
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true)
    } catch { fail("cannot create \(records): \(error)") }

    let key = Minisign.SecretKey.generate()
    let trust = TrustStore.entry(
        for: key.publicKey, roles: [.authorize, .revoke], validFrom: CalendarDay("2020-01-01")!, comment: "bench")
    try? trust.write(toFile: (folder as NSString).appendingPathComponent("trust.yml"), atomically: true, encoding: .utf8)
    try? key.publicKey.fileText.write(
        toFile: (folder as NSString).appendingPathComponent("bench.pub"), atomically: true, encoding: .utf8)

    let signedAt = Timestamp.parse("2026-01-02T00:00:00Z")!
    for index in 0..<count {
        let authorization = Authorization(
            id: String(format: "BENCH-%06d", index), subject: String(format: "P-%06d", index % 7919),
            coveredEntity: "Benchmark Clinic (synthetic)", purposes: ["marketing"], channels: ["website", "instagram"],
            recipients: ["marketing office"],
            assets: [AssetReference(presentedSHA256: randomHash(), fileSHA256: randomHash())],
            effective: CalendarDay("2026-01-01")!, expires: CalendarDay("2030-01-01")!,
            signedOn: CalendarDay("2026-01-01")!,
            signer: .init(kind: "patient"), form: .init(templateID: "bench-form-v1", documentSHA256: randomHash()),
            recordedBy: "bench", recordedAt: signedAt)
        do {
            try RecordWriter.write(
                RecordWriter.json(authorization), record: .authorization(authorization), to: records, key: key,
                now: signedAt)
        } catch { fail("\(error)") }
    }
    print("wrote \(count) records to \(records)")
}

func appendHistory(ledger path: String, pipeline: String, events count: Int) {
    do throws(PipelineError) {
        let ledger = try Ledger(path: path, create: false)
        var written = 0
        while written < count {
            var batch: [NewLedgerEvent] = []
            while batch.count < 1000 && written + batch.count < count {
                let asset = String(randomHash().prefix(32))
                let content = randomHash()
                let file = randomHash()
                batch.append(
                    try NewLedgerEvent(
                        pipeline: pipeline, kind: .published, asset: asset, fileSHA256: file, contentSHA256: content,
                        detail: [
                            "published_name": asset + ".png", "records": ["BENCH-HISTORY"],
                            "published_sha256": randomHash(), "published_stat": "0:0.0:0.0:0:0",
                        ]))
                guard written + batch.count < count else { break }
                batch.append(
                    try NewLedgerEvent(
                        pipeline: pipeline, kind: .retracted, asset: asset, fileSHA256: file, contentSHA256: content,
                        detail: [
                            "reasons": [ReasonCode.missingFromPublish.rawValue], "records": ["BENCH-HISTORY"],
                            "withdrawn": "missing",
                        ]))
            }
            try ledger.append(batch: batch)
            written += batch.count
        }
        print("appended \(written) events to \(path)")
    } catch { fail("\(error)") }
}
