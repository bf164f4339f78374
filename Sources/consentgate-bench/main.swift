// consentgate-bench: prepares inputs for the benchmarks in Scripts/ (timing is hyperfine's job).
//
//   consentgate-bench make-records --count N --dir DIR
//
// Writes N signed synthetic authorizations (random fingerprints, pseudonymous subjects) into DIR/authorizations,
// the signing key's public half as DIR/bench.pub and a trust file DIR/trust.yml. The key is generated for the
// run and thrown away; nothing here is real data.
//
//   consentgate-bench faces FILE [--runs N] [--min-face-pixels P]
//
// Times the face detector (decode to its working size, detection) on FILE in this process, N times, and prints
// the faces found and the mean, best and worst milliseconds (Scripts/benchmark-faces).
import ConsentRecords
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("consentgate-bench: \(message)\n".utf8))
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "faces" { FacesBench.run(Array(arguments.dropFirst())) }
guard arguments.first == "make-records", let countIndex = arguments.firstIndex(of: "--count"),
    let dirIndex = arguments.firstIndex(of: "--dir"), countIndex + 1 < arguments.count, dirIndex + 1 < arguments.count,
    let count = Int(arguments[countIndex + 1]), count > 0
else { fail("usage: consentgate-bench make-records --count N --dir DIR") }
let folder = arguments[dirIndex + 1]
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

func randomHash() -> String {
    (0..<32).map { _ in
        let byte = UInt8.random(in: 0...255)
        return (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }.joined()
}

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
