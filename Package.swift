// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ConsentGate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "consentgate", targets: ["consentgate"]),
        .executable(name: "consentgate-bench", targets: ["consentgate-bench"]),
        .library(name: "MediaFormats", targets: ["MediaFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
        // System calls the Swift Glibc module does not expose (renameat2 with RENAME_NOREPLACE).
        .target(name: "CSystemShims"),
        // Media formats: detection, structure walkers, inspection, fingerprints, lossless sanitizing.
        .target(
            name: "MediaFormats",
            dependencies: [
                "CExif", "CMediaShims",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Consent records: strict JSON, minisign signatures, the trust store, the registry, the decision.
        .target(
            name: "ConsentRecords",
            dependencies: [
                "MediaFormats", "CSodium",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The pipeline: configuration, stages on Dispatch queues, delivery, sweep, the ledger.
        .target(
            name: "Pipeline",
            dependencies: [
                "MediaFormats", "ConsentRecords", "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The thin command-line front end.
        .executableTarget(
            name: "consentgate",
            dependencies: [
                "MediaFormats", "ConsentRecords", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Prepares benchmark inputs (Scripts/benchmark-records); the timing is hyperfine's.
        .executableTarget(name: "consentgate-bench", dependencies: ["ConsentRecords"]),
        .testTarget(
            name: "MediaFormatsTests",
            dependencies: ["MediaFormats", "CMediaShims"]
        ),
        .testTarget(
            name: "ConsentRecordsTests",
            dependencies: ["ConsentRecords", "MediaFormats"]
        ),
        .testTarget(
            name: "PipelineUnitTests",
            dependencies: ["Pipeline", "ConsentRecords", "MediaFormats"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
