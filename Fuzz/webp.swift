// libFuzzer target: webp pictures. See Support/MediaOracle.swift for what is checked beyond "no crash";
// build and run with Scripts/fuzz webp [SECONDS].
import MediaFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzPicture(data, size, format: .webp)
}
