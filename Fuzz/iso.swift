// libFuzzer target: ISO-BMFF media (MP4, MOV, 3GP, HEIC, HEIF, AVIF), through MediaFile on a file in /dev/shm.
// See Support/MediaOracle.swift for what is checked beyond "no crash"; run with Scripts/fuzz iso [SECONDS].
import MediaFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzISO(data, size)
}
