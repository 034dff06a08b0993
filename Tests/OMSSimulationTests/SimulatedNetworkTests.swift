import Foundation
import OMSSimulation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("oms simulate network")
struct SimulatedNetworkTests {
    static let small = SimulatedNetwork.Parameters(substations: 3, feedersPerSubstation: 4, dpsPerFeeder: 10, meters: 1_200, seed: 42)

    func write(_ parameters: SimulatedNetwork.Parameters, format: NetworkFiles.Format = .csv) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-sim-\(UUID().uuidString.prefix(8))").path
        try NetworkFiles.write(SimulatedNetwork(parameters), to: folder, format: format)
        return folder
    }

    func contents(_ folder: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)"))
        }
        return files
    }

    @Test("the same seed writes the same files; another seed, other files")
    func deterministic() throws {
        let a = try write(Self.small)
        let b = try write(Self.small)
        var other = Self.small
        other.seed = 43
        let c = try write(other)
        defer { for folder in [a, b, c] { try? FileManager.default.removeItem(atPath: folder) } }
        let first = try contents(a)
        #expect(first.keys.sorted() == [
            "customers.csv", "distribution_points.csv", "feeders.csv", "meters.csv", "simulation.json", "substations.csv",
        ])
        #expect(try NetworkFiles.read(from: a).premises == SimulatedNetwork(Self.small).premises, "simulation.json gives the network back")
        #expect(first == (try contents(b)))
        #expect(first["meters.csv"] != (try contents(c))["meters.csv"])
    }

    @Test("the shape asked for: counts, parents, meters near their distribution point, shared ONUs, smart meters")
    func shape() throws {
        let network = SimulatedNetwork(Self.small)
        #expect(network.substations.count == 3)
        #expect(network.feeders.count == 12)
        #expect(network.distributionPoints.count == 120)
        #expect(network.premises.count == 1_200)
        let feeders = Set(network.feeders.map(\.id))
        let dps = Dictionary(uniqueKeysWithValues: network.distributionPoints.map { ($0.id, $0) })
        #expect(network.feeders.allSatisfy { Set(network.substations.map(\.id)).contains($0.parent ?? "") })
        #expect(network.distributionPoints.allSatisfy { feeders.contains($0.parent ?? "") })
        #expect(Set(network.premises.map(\.meterNumber)).count == 1_200)
        for premise in network.premises {
            let dp = try #require(dps[premise.dp])
            let km = 111.2 * hypot(premise.latitude - dp.latitude, (premise.longitude - dp.longitude) * cos(dp.latitude * .pi / 180))
            #expect(km < 0.11, "\(premise.meterNumber) is \(km) km from its distribution point")
        }
        let perONU = Dictionary(grouping: network.premises.compactMap(\.onuID), by: { $0 }).mapValues(\.count)
        #expect(perONU.values.allSatisfy { $0 <= 2 })
        #expect(perONU.values.contains(2), "some ONUs serve two meters")
        let dpsOfONU = Dictionary(grouping: network.premises.filter { $0.onuID != nil }, by: { $0.onuID! }).mapValues { Set($0.map(\.dp)) }
        #expect(dpsOfONU.values.allSatisfy { $0.count == 1 }, "a shared ONU serves two meters of one distribution point")
        let withONU = Double(network.premises.filter { $0.onuID != nil }.count) / 1_200
        #expect(withONU > 0.5 && withONU < 0.75)
        let smart = network.premises.filter { $0.assetMRID != nil }
        #expect(Double(smart.count) / 1_200 > 0.8)
        #expect(smart.allSatisfy { $0.meterType == "smart" && $0.usagePointMRID != nil })
        #expect(network.premises.allSatisfy { $0.onuSerial.map { $0.range(of: "^[A-Z]{4}[0-9A-F]{8}$", options: .regularExpression) != nil } ?? true })
    }

    @Test("CSV and GeoJSON files import with oms import's engine: every row in, every meter under its feeder and substation", arguments: NetworkFiles.Format.allCases)
    func imports(format: NetworkFiles.Format) async throws {
        let folder = try write(Self.small, format: format)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            let importer = RegistryImporter(client: database.client, logger: TestDatabase.logger)
            let summaries = try await importer.importFiles(try RegistryImporter.files(at: folder))
            #expect(summaries.map(\.inserted) == [3, 12, 120, 1_200, 1_200])
            #expect(summaries.allSatisfy { $0.rejects.isEmpty }, "\(summaries.flatMap(\.rejects).prefix(3))")
            let linked = try await database.client.scalar(
                "SELECT count(*)::int FROM oms_meters m JOIN network_feeder_meters f ON f.meter_id = m.id JOIN network_substation_meters s ON s.meter_id = m.id",
                as: Int.self)
            #expect(linked == 1_200)
        }
    }
}
