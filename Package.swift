// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ConsentGate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "consentgate", targets: ["consentgate"]),
        .executable(name: "consentgate-bench", targets: ["consentgate-bench"]),
        .library(name: "MediaFormats", targets: ["MediaFormats", "ByteKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C libraries, each through its own system-library target (pkg-config + apt provider).
        .systemLibrary(name: "CExif", pkgConfig: "libexif", providers: [.apt(["libexif-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // Every libjpeg/libpng call that can longjmp or exit() lives behind this shim.
        .target(
            name: "CMediaShims",
            dependencies: ["CJPEG", "CPNG"],
            linkerSettings: [.linkedLibrary("z")]
        ),
        // System calls the Swift Glibc module does not expose (renameat2 with RENAME_NOREPLACE, copy_file_range).
        .target(name: "CSystemShims"),
        // Bytes and files: random-access reads, crash-safe writes, big-endian integers, range arithmetic, SHA-256.
        .target(
            name: "ByteKit",
            dependencies: ["CSystemShims", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Media formats: one handler per format (detection, walk, inspection, fingerprints, lossless sanitizing).
        .target(
            name: "MediaFormats",
            dependencies: [
                "ByteKit", "CExif", "CMediaShims",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Consent records: strict JSON, minisign signatures, the trust store, the registry, the decision.
        .target(
            name: "ConsentRecords",
            dependencies: [
                "ByteKit", "CSodium",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The pipeline: configuration, stages on Dispatch queues, delivery, sweep, the ledger.
        .target(
            name: "Pipeline",
            dependencies: [
                "ByteKit", "MediaFormats", "ConsentRecords", "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The thin command-line front end.
        .executableTarget(
            name: "consentgate",
            dependencies: [
                "ByteKit", "MediaFormats", "ConsentRecords", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Prepares benchmark inputs (Scripts/benchmark-records); the timing is hyperfine's.
        .executableTarget(name: "consentgate-bench", dependencies: ["ConsentRecords"]),
        .testTarget(
            name: "MediaFormatsTests",
            dependencies: ["ByteKit", "MediaFormats", "CMediaShims"]
        ),
        .testTarget(
            name: "ConsentRecordsTests",
            dependencies: ["ConsentRecords", "ByteKit", "MediaFormats"]
        ),
        .testTarget(
            name: "PipelineUnitTests",
            dependencies: ["Pipeline", "ConsentRecords", "ByteKit", "MediaFormats"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
