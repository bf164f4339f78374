// libFuzzer target: the pipeline file (SPEC §1), YAML text through Yams to PipelineConfig.parse. Beyond "no crash":
// an accepted configuration has absolute, normalised folder paths and finite, in-range numbers.
// Run with Scripts/fuzz pipeline [SECONDS].
import Pipeline

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzBytes(data, size)
    guard let text = String(validating: bytes, as: UTF8.self) else { return -1 }
    guard let config = try? PipelineConfig.parse(text, path: "/fuzz/pipelines/fuzz.yml") else { return 0 }
    for folder in [config.inbox, config.publish, config.quarantine, config.archive, config.retracted, config.work] {
        if !folder.hasPrefix("/") { oracleFailure("a folder path is not absolute: \(folder)") }
    }
    if !config.lockWaitSeconds.isFinite || config.lockWaitSeconds < 0 { oracleFailure("lock_wait_seconds out of range") }
    if !config.pendingDays.isFinite || config.pendingDays < 0 { oracleFailure("pending_days out of range") }
    _ = try? PipelineConfig.checkTogether([config, config])
    return 0
}
