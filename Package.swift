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
    // The shared PostgreSQL ledger (several hosts) needs postgres-nio, whose first build (SwiftNIO and a second
    // BoringSSL) takes minutes: a trait, on in CI and the Debian package, off for a first look at the demo.
    //   swift build --traits PostgreSQL
    traits: [
        .trait(name: "PostgreSQL", description: "The shared PostgreSQL ledger for several hosts (postgres-nio).")
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        // The privacy office's app (consentgate office): a small HTTP server on loopback. Its default traits (the
        // swift-configuration reader, full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
    ],
    targets: [
        // C libraries, each through its own system-library target (pkg-config + apt provider).
        .systemLibrary(name: "CExif", pkgConfig: "libexif", providers: [.apt(["libexif-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libwebp's decoder: where it stops reading a WebP image chunk (WebPReadEnd).
        .systemLibrary(name: "CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // Every libjpeg/libpng call that can longjmp or exit() lives behind this shim.
        .target(
            name: "CMediaShims",
            dependencies: ["CJPEG", "CPNG"],
            // The JPEG entropy walk runs on every picture several times (fingerprint, sanitize, verify): optimized
            // in debug builds too, or the test suite's pictures take seconds each.
            cSettings: [.unsafeFlags(["-O2"])],
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
                "ByteKit", "CExif", "CMediaShims", "CWebP",
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
                "ByteKit", "MediaFormats", "MediaWorker", "ConsentRecords", "CSystemShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["PostgreSQL"])),
            ]
        ),
        // The privacy office's app: pages rendered on the server, bound to 127.0.0.1, a token, CSRF on every form.
        .target(
            name: "OfficeApp",
            dependencies: [
                "ByteKit", "ConsentRecords",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The thin command-line front end.
        .executableTarget(
            name: "consentgate",
            dependencies: [
                "ByteKit", "MediaFormats", "ConsentRecords", "Pipeline", "Sandbox", "MediaWorker", "OfficeApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Prepares benchmark inputs (Scripts/benchmark-records); the timing is hyperfine's.
        .executableTarget(
            name: "consentgate-bench",
            dependencies: ["ConsentRecords", "Pipeline", "FaceDetection", "MediaFormats", "ByteKit"]),
        .testTarget(
            name: "MediaFormatsTests",
            dependencies: ["ByteKit", "MediaFormats", "CMediaShims", "TestSupport"]
        ),
        .testTarget(
            name: "ConsentRecordsTests",
            dependencies: ["ConsentRecords", "ByteKit", "MediaFormats", "TestSupport"]
        ),
        // The pipeline's stages alone, in memory (no binary needed).
        .testTarget(
            name: "PipelineUnitTests",
            dependencies: ["Pipeline", "ConsentRecords", "ByteKit", "MediaFormats", "TestSupport"]
        ),
        // The pipeline end to end through the built binary, on temporary folders.
        .testTarget(
            name: "PipelineTests",
            dependencies: ["ByteKit", "MediaFormats", "TestSupport"]
        ),
        // The command line as a user runs it: strip, inspect, keys, authorize, check, revoke, records.
        .testTarget(
            name: "CLITests",
            dependencies: ["TestSupport"]
        ),
        // What the test targets share: fixtures found from #filePath, outside tools, the built binary.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // The sandbox: libseccomp, the C calls Swift's Glibc lacks, and the worker processes that contain the parsers.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .target(name: "CSandboxShims", dependencies: ["CSeccomp"]),
        .target(name: "Sandbox", dependencies: ["CSeccomp", "CSandboxShims"]),
        .testTarget(name: "SandboxTests", dependencies: ["Sandbox"]),
        // Every operation on media bytes as a request to a sandboxed worker: the worker's side and the caller's.
        .target(name: "MediaWorker", dependencies: ["ByteKit", "MediaFormats", "FaceDetection", "Sandbox"]),
        // Faces in a picture (how many people are visible, for the consent check): dlib's built-in HOG frontal
        // detector behind a C shim that keeps every C++ exception inside. dlib's matrix headers call LAPACK
        // (libdlib-dev, liblapack-dev, libblas-dev).
        .target(
            name: "CFaceShim",
            cxxSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("dlib"), .linkedLibrary("lapack"), .linkedLibrary("blas")]
        ),
        // Video frames, WebP and GIF for the face detector: libavcodec's decoders (one thread, samples handed over by
        // our own ISO-BMFF reader) and libswscale for the grey working picture.
        .systemLibrary(
            name: "CAVCodec", pkgConfig: "libavcodec",
            providers: [.apt(["libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        // HEIC, HEIF and AVIF pictures for the face detector: libheif (its primary image, upright).
        .systemLibrary(name: "CHEIF", pkgConfig: "libheif", providers: [.apt(["libheif-dev"])]),
        .target(
            name: "CVideoShim", dependencies: ["CAVCodec", "CHEIF"], cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("avutil"), .linkedLibrary("swscale")]),
        .target(name: "FaceDetection", dependencies: ["ByteKit", "MediaFormats", "CFaceShim", "CVideoShim"]),
        .testTarget(name: "FaceDetectionTests", dependencies: ["FaceDetection", "MediaFormats", "ByteKit", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
