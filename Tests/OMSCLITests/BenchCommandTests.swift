import Foundation
import OMSStore
import OMSTestSupport
import Testing

@testable import OMSCLI

extension CommandTests {
    @Test("oms bench runs every benchmark at a size and prints one table with a row per operation, its baseline and goal")
    func benchAll() async throws {
        try await withScratchFolder { folder in
            let server = try await TestDatabase.server()
            let size = BenchRegistry.minimumSize
            for name in ["oms_bench_\(size)", "oms_bench_import", RegistryMigrationBench.databaseName] {
                try await DatabaseBootstrap.createDatabaseIfNeeded(
                    name, maintenance: try server.clientConfiguration(database: "postgres"), logger: TestDatabase.logger)
            }
            let url = try server.connectionURL(database: "postgres")
            try await run(["bench", "--meters", "\(size)", "--iterations", "3", "--storm-events", "2000", "--api-requests", "20", "--proximity-searches", "20",
                           "--database-url", url, "--json", "\(folder)/bench.json"])
            let lines = try JSONDecoder().decode([AllBench.Line].self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/bench.json")))
            let operations = lines.map(\.operation)
            for expected in ["feeder trip, 150 meters (SQL)", "feeder trip, 150 meters (HTTP)", "meters by substation, 1,000 (SQL)",
                             "meters within 5 km (SQL)", "GET /api/v1/meters/{n} (HTTP, 1 client)", "storm, batches of 1000",
                             "import network, customers, meters", "registry migration"] {
                #expect(operations.contains { $0.hasPrefix(expected) }, "\(expected) in \(operations)")
            }
            #expect(lines.allSatisfy { $0.meters == size && !$0.p50.isEmpty && !$0.baseline.isEmpty && $0.ratio.hasSuffix("x") })
            #expect(lines.contains { $0.goal.contains("seed <= 500 ms") && $0.met.contains(";") }, "an issue goal and the seed's, each met or not")
        }
    }
}
