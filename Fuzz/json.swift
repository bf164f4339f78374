// libFuzzer target: the strict JSON parser and the record parser (SPEC §5), on the bytes as a record file holds them.
// Beyond "no crash": a record the parser accepts is valid JSON to StrictJSON too; written back by RecordWriter it
// parses again to the same record, and writing that gives the same bytes (writer and parser agree).
// Run with Scripts/fuzz json [SECONDS].
import ConsentRecords

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    let value = try? StrictJSON.parse(bytes)
    _ = try? StrictJSON.parse(bytes, maxDepth: 4)
    guard let record = try? RecordParser.parse(bytes) else { return 0 }
    if value == nil { oracleFailure("RecordParser accepted JSON that StrictJSON refuses") }
    func write(_ record: Record) -> [UInt8] {
        switch record {
        case .authorization(let a): return RecordWriter.json(a)
        case .revocation(let r): return RecordWriter.json(r)
        case .takedown(let t): return RecordWriter.json(t)
        case .takedownLift(let l): return RecordWriter.json(l)
        case .review(let r): return RecordWriter.json(r)
        }
    }
    let written = write(record)
    let again: Record
    do { again = try RecordParser.parse(written) } catch {
        oracleFailure("RecordWriter's JSON of an accepted record does not parse: \(error)")
    }
    if again.id != record.id { oracleFailure("the record's id changed on the way through RecordWriter") }
    if write(again) != written { oracleFailure("RecordWriter and RecordParser disagree (no fixed point)") }
    return 0
}
