import Foundation
import Logging
import OMSSimulation
import OMSStore
import PostgresNIO

/// The benchmarks' registry: simulated utilities (`OMSSimulation`) imported through `oms import`'s
/// engine, shaped so that the seed's operations have their exact sizes:
///
/// - `SS001`: 20 feeders of 500 meters (the 10,000-meter substation event);
/// - `SS002`: 2 feeders of 500 meters (meters by substation, 1,000);
/// - pool substations `SS003`…: 10 feeders of 150 meters each (the feeder trips);
/// - one last substation with whatever is left to reach the requested size.
///
/// Every meter is smart and has its own ONU. States by meter index n (M1000000n): power off when
/// n % 20 = 0, communication offline when n % 33 = 0, else on and heard from within 10 minutes.
enum BenchRegistry {
    static let minimumSize = 12_500
    static let tenThousandSubstation = "SS001"
    static let thousandSubstation = "SS002"

    /// Meter n (1-based) and its feed identities, as the simulator names them.
    static func meterNumber(_ n: Int) -> String { "M\(10_000_000 + n)" }
    static func assetMRID(_ n: Int) -> String { "KFA-" + meterNumber(n) }
    static func onuID(_ n: Int) -> String { String(format: "ONU-%06d", n) }

    static func pools(size: Int) -> Int { max((size - 11_000) / 1_500, 1) }

    /// Pool feeders of 150 meters, in order: the feeder trips use them round-robin.
    static func poolFeeders(size: Int) -> [(substation: String, feeder: String)] {
        (1...pools(size: size)).flatMap { pool in
            (1...10).map { feeder in
                let substation = String(format: "SS%03d", pool + 2)
                return (substation, String(format: "%@-FD%02d", substation, feeder))
            }
        }
    }

    /// The simulated networks that make up a registry of `size` meters, in import order
    /// (the largest first, so that it takes the initial-load path into empty tables).
    static func networks(size: Int) -> [SimulatedNetwork.Parameters] {
        let pools = pools(size: size)
        let rest = size - 11_000 - pools * 1_500
        func part(_ substations: Int, _ feeders: Int, _ meters: Int, firstSubstation: Int, firstMeter: Int) -> SimulatedNetwork.Parameters {
            SimulatedNetwork.Parameters(
                substations: substations, feedersPerSubstation: feeders, dpsPerFeeder: 10, meters: meters,
                seed: UInt64(firstSubstation), onuShare: 1, sharedONUShare: 0, smartShare: 1,
                firstSubstation: firstSubstation, firstMeter: firstMeter)
        }
        var parts = [
            part(pools, 10, pools * 1_500, firstSubstation: 3, firstMeter: 11_001),
            part(1, 20, 10_000, firstSubstation: 1, firstMeter: 1),
            part(1, 2, 1_000, firstSubstation: 2, firstMeter: 10_001),
        ]
        if rest > 0 { parts.append(part(1, 1, rest, firstSubstation: pools + 3, firstMeter: 11_001 + pools * 1_500)) }
        return parts
    }

    /// Migrates the database and makes sure it holds a complete registry of `size`
    /// meters, building it (from an empty schema) when not.
    static func prepare(size: Int, rebuild: Bool, client: PostgresClient, logger: Logger) async throws {
        let reset = DatabaseReset(client: client, logger: logger)
        if rebuild { try await reset.recreatePublicSchema() }
        try await MigrationRunner.bundled(logger: logger).migrate(client)
        // The active meters of a complete benchmark registry; nil when there is no schema, -1 for
        // meters built another way before.
        let existing = try await BenchmarkRegistryStore(client: client, logger: logger).activeMeterCount()
        if existing == size { return }
        if existing != 0 {
            try await reset.recreatePublicSchema()
            try await MigrationRunner.bundled(logger: logger).migrate(client)
        }
        let clock = ContinuousClock()
        let started = clock.now
        FileHandle.standardError.write(Data("building a registry of \(size) meters (simulated, imported)...\n".utf8))
        try await build(size: size, client: client, logger: logger)
        FileHandle.standardError.write(Data("built in \(clock.now - started)\n".utf8))
    }

    /// Fills an empty, migrated database with `size` meters: the simulated networks imported,
    /// then the meters' states set by index.
    static func build(size: Int, client: PostgresClient, logger: Logger) async throws {
        precondition(size >= minimumSize, "the benchmark registry needs at least \(minimumSize) meters")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-bench-registry-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let importer = RegistryImporter(client: client, logger: logger)
        for (index, parameters) in networks(size: size).enumerated() {
            let part = "\(folder)/\(index)"
            try NetworkFiles.write(SimulatedNetwork(parameters), to: part, format: .csv)
            let started = ContinuousClock.now
            let summaries = try await importer.importFiles(try RegistryImporter.files(at: part))
            FileHandle.standardError.write(Data(
                "  imported \(parameters.meters) meters (from SS\(parameters.firstSubstation)) in \(ContinuousClock.now - started)\n".utf8))
            if let refused = summaries.first(where: { !$0.rejects.isEmpty }) {
                throw BenchRegistryError(reason: "\(refused.file): \(refused.rejects.count) rows refused, first: \(refused.rejects[0])")
            }
        }
        let started = ContinuousClock.now
        try await BenchmarkRegistryStore(client: client, logger: logger).setStatesByMeterIndex()
        FileHandle.standardError.write(Data("  states set in \(ContinuousClock.now - started)\n".utf8))
        try await DatabaseMaintenance(client: client, logger: logger).vacuumAnalyze()
    }
}

/// The benchmark registry could not be built.
struct BenchRegistryError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "benchmark registry: \(reason)" }
}
