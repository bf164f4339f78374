// Shared by every fuzz target: a broken property is reported like a crash, so libFuzzer keeps the input.
#if canImport(Glibc)
    import Glibc
#endif

func oracleFailure(_ what: String) -> Never {
    fputs("\n==consentgate-fuzz== ORACLE FAILURE: \(what)\n", stderr)
    abort()
}

func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
}
