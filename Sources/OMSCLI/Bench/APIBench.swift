import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSSimulation
import OMSStore
import PostgresNIO

/// `oms bench api`: read routes of the HTTP API under 1, 8 and 32 concurrent clients.
struct APIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "GET a meter, a meter's history (100 rows) and the active outages over HTTP at 1, 8 and 32 concurrent clients: p50, p99, requests/s.",
        discussion: """
            Uses the benchmark registry of --meters (database oms_bench_<meters>, built once and reused). \
            Before timing, 50 meters get 100 history rows each (removed afterwards). Every request carries \
            an API key (checked against the database each time). Baseline: GET /health (no database, no key) \
            at the same concurrency, in the same run. Goal (issue 6): GET meter p50 <= 1 ms at 1 client, \
            >= 10,000 requests/s at 32.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Registry size (meters).")
    var meters: Int = 1_000_000

    @Option(help: "Timed requests per operation and concurrency.")
    var requests: Int = 2_000

    @Option(help: "Concurrent clients, comma-separated.")
    var concurrency: String = "1,8,32"

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    /// One operation at one concurrency, as written to --json.
    struct Figures: Codable {
        var operation: String
        var clients: Int
        var requests: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var requestsPerSecond: Double
    }

    func validate() throws {
        guard meters >= BenchRegistry.minimumSize else { throw ValidationError("--meters must be at least \(BenchRegistry.minimumSize)") }
        guard requests > 0 else { throw ValidationError("--requests must be positive") }
        guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 }) else { throw ValidationError("--concurrency: positive numbers, e.g. 1,8,32") }
    }

    var levels: [Int] { concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    struct Row {
        var operation: String
        var clients: Int
        var sample: LatencySample
        var seconds: Double
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (meters, requests, levels) = (meters, requests, levels)
        let rows = try await database.withDatabase(database: "oms_bench_\(meters)", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.prepare(size: meters, rebuild: false, client: client, logger: logger)
                let numbers = try await Self.historyMeters(client: client, logger: logger)
                do {
                    let rows = try await LocalServer.with(configuration: configuration, logger: logger) { endpoint in
                        var rows: [Row] = []
                        var generator = SeededRandom(seed: 7)
                        let randomMeters = (0..<(requests + 64)).map { _ in
                            BenchRegistry.meterNumber(Int.random(in: 1...meters, using: &generator))
                        }
                        for clients in levels {
                            rows.append(try await Self.load("GET /health (baseline)", clients: clients, requests: requests, endpoint: endpoint) { _ in "/health" })
                            rows.append(try await Self.load("GET /api/v1/meters/{n}", clients: clients, requests: requests, endpoint: endpoint) { index in
                                "/api/v1/meters/\(randomMeters[index % randomMeters.count])"
                            })
                            rows.append(try await Self.load("GET …/history (100 rows)", clients: clients, requests: requests, endpoint: endpoint) { index in
                                "/api/v1/meters/\(numbers[index % numbers.count])/history?limit=100"
                            })
                            rows.append(try await Self.load("GET /api/v1/outages?active=true", clients: clients, requests: requests, endpoint: endpoint) { _ in
                                "/api/v1/outages?active=true&limit=100"
                            })
                        }
                        return rows
                    }
                    try await Self.removeHistory(client: client, logger: logger)
                    return rows
                } catch {
                    try? await Self.removeHistory(client: client, logger: logger)
                    throw error
                }
            }
        }
        var table = TextTable(columns: ["operation", "clients", "requests", "p50 ms", "p99 ms", "requests/s", "baseline req/s", "goal"])
        for row in rows {
            let baseline = rows.first { $0.operation.hasPrefix("GET /health") && $0.clients == row.clients }
            let goal = row.operation == "GET /api/v1/meters/{n}" ? (row.clients == 1 ? "p50 <= 1 ms" : row.clients == 32 ? ">= 10,000 req/s" : "") : ""
            table.append([
                row.operation, "\(row.clients)", "\(row.sample.count)", String(format: "%.2f", row.sample.p50), String(format: "%.2f", row.sample.p99),
                String(format: "%.0f", Double(row.sample.count) / row.seconds),
                baseline.map { String(format: "%.0f", Double($0.sample.count) / $0.seconds) } ?? "", goal,
            ])
        }
        print(table.render())
        if let json {
            let figures = rows.map {
                Figures(operation: $0.operation, clients: $0.clients, requests: $0.sample.count, p50Milliseconds: $0.sample.p50,
                        p99Milliseconds: $0.sample.p99, requestsPerSecond: Double($0.sample.count) / $0.seconds)
            }
            try JSONOutput.write(figures, to: json)
        }
    }

    /// `requests` GETs by `clients` concurrent workers (after 20 untimed each): latencies and wall seconds.
    static func load(
        _ operation: String, clients: Int, requests: Int, endpoint: LocalServer.Endpoint, path: @escaping @Sendable (Int) -> String
    ) async throws -> Row {
        for index in 0..<20 { _ = try await endpoint.send(.GET, path(index)) }
        let started = ContinuousClock.now
        let sample = try await withThrowingTaskGroup(of: LatencySample.self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var sample = LatencySample()
                    var index = worker
                    while index < requests {
                        let begun = ContinuousClock.now
                        _ = try await endpoint.send(.GET, path(index))
                        sample.record(ContinuousClock.now - begun)
                        index += clients
                    }
                    return sample
                }
            }
            var all = LatencySample()
            for try await part in group { all.merge(part) }
            return all
        }
        return Row(operation: operation, clients: clients, sample: sample, seconds: (ContinuousClock.now - started).seconds)
    }

    /// 50 meters with 100 history rows each (not applied: no status changes, no announcements).
    static func historyMeters(client: PostgresClient, logger: Logger) async throws -> [String] {
        let store = APIBenchStore(client: client, logger: logger)
        try await store.removeHistoryRows()
        try await store.addHistoryRows()
        return try await store.historyMeterNumbers()
    }

    static func removeHistory(client: PostgresClient, logger: Logger) async throws {
        try await APIBenchStore(client: client, logger: logger).removeHistoryRows()
    }
}
