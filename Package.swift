// swift-tools-version:6.2
// The outage correlation service: one module per concern.
//
//   OMSDomain  meter states, source types, identifiers, settings (no I/O)
//   OMSFeeds   decoders for the feeds' real message formats (no I/O)
//   OMSAPI     the HTTP API's contract: openapi.json and the types generated from it (no I/O)
//   OMSStore   PostgreSQL: migrations, the managed local server, typed access
//   CProcessSpawn  two posix_spawn shims for OMSStore's child processes
//   OMSSimulation  a synthetic utility and its storms, deterministic by seed (no I/O but writing files)
//   OMSFuzzing  inputs made from the feeds' real samples, and the properties every decoding must keep
//   oms-fuzz-target  the decoders as a libFuzzer target (scripts/fuzz-decoders.sh)
//   OMSHTTP    the Hummingbird application (`oms serve`)
//   OMSCLI     the commands of the `oms` tool (ArgumentParser), testable as a library
//   oms        the executable: `oms <command>`
//
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "oms",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "oms", targets: ["oms"]),
        .library(name: "OMSDomain", targets: ["OMSDomain"]),
        .library(name: "OMSFeeds", targets: ["OMSFeeds"]),
        .library(name: "OMSStore", targets: ["OMSStore"]),
        .library(name: "OMSHTTP", targets: ["OMSHTTP"]),
        .library(name: "OMSCLI", targets: ["OMSCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
    ],
    targets: [
        .target(
            name: "OMSDomain",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OMSFeeds",
            dependencies: ["OMSDomain"],
            swiftSettings: swiftSettings
        ),
        // The HTTP API's contract: openapi.json (the source) and the types and server protocol
        // swift-openapi-generator made from it (Generated/, committed; scripts/generate-api.sh).
        .target(
            name: "OMSAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            exclude: ["openapi-generator-config.yaml", "Generated/openapi.json.sha256"],
            resources: [.copy("openapi.json")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OMSSimulation",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OMSFuzzing",
            dependencies: ["OMSDomain", "OMSFeeds", "OMSSimulation"],
            swiftSettings: swiftSettings
        ),
        // The decoders as a libFuzzer target (scripts/fuzz-decoders.sh); without -DLIBFUZZER it
        // replays inputs from files.
        .executableTarget(
            name: "oms-fuzz-target",
            dependencies: ["OMSFeeds", "OMSFuzzing", "OMSSimulation"],
            path: "Sources/OMSFuzzTarget",
            swiftSettings: swiftSettings
        ),
        // posix_spawn extensions Swift's Glibc module does not export.
        .target(name: "CProcessSpawn"),
        .target(
            name: "OMSStore",
            dependencies: [
                "OMSAPI",
                "OMSDomain",
                "OMSFeeds",
                "CProcessSpawn",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            resources: [.copy("Schema"), .copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OMSHTTP",
            dependencies: [
                "OMSAPI",
                "OMSDomain",
                "OMSFeeds",
                "OMSStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            ],
            // The operator console's page, script and styles, served at / (no build step of their own).
            resources: [.copy("Console")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OMSCLI",
            dependencies: [
                "OMSDomain",
                "OMSFeeds",
                "OMSStore",
                "OMSHTTP",
                "OMSSimulation",
                "OMSFuzzing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "oms",
            dependencies: ["OMSCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        // Starts one throwaway PostgreSQL per test process (with OMSStore's own
        // managed-server code) and hands each test a fresh migrated database.
        .target(
            name: "OMSTestSupport",
            dependencies: [
                "OMSStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/OMSTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSSimulationTests",
            dependencies: ["OMSSimulation", "OMSFeeds", "OMSStore", "OMSTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSDomainTests",
            dependencies: ["OMSDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSFeedsTests",
            dependencies: ["OMSFeeds", "OMSDomain", "OMSFuzzing", "OMSSimulation"],
            resources: [.copy("Regressions")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSStoreTests",
            dependencies: [
                "OMSStore",
                "OMSTestSupport",
                "OMSDomain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            // The numbered migrations 0001-0031 the schema was built by before Schema/ (upgrade and equivalence tests).
            resources: [.copy("LegacyMigrations")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSCLITests",
            dependencies: [
                "OMSCLI", "OMSDomain", "OMSHTTP", "OMSStore", "OMSTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OMSHTTPTests",
            dependencies: [
                "OMSHTTP",
                "OMSAPI",
                "OMSDomain",
                "OMSStore",
                "OMSFeeds",
                "OMSFuzzing",
                "OMSSimulation",
                "OMSTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
