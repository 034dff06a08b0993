import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OMSHTTP
import OMSStore
import PostgresNIO

/// Runs each benchmark operation through SQL and through HTTP on one prepared registry.
struct BenchRunner: Sendable {
    static let feederTrip = "feeder trip, 150 meters"
    static let feederTripInStorm = "feeder trip, 150 meters, 3,000 outages open elsewhere"
    /// The outages open elsewhere (on `SS001` and `SS002`) while `feederTripInStorm` is timed.
    static let outagesElsewhere = 3_000
    static let substationEvent = "substation event, 10,000 meters"
    static let lookup1K = "meters by substation, 1,000"
    static let lookup10K = "meters by substation, 10,000"

    let size: Int
    let iterations: Int
    let configuration: PostgresClient.Configuration
    let logger: Logger

    var heavyIterations: Int { max(20, iterations / 5) }

    func run(http: Bool) async throws -> [BenchRow] {
        var rows = try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
            try await runSQL(client)
        }
        if http { rows += try await runHTTP() }
        return rows
    }

    // MARK: - SQL

    func runSQL(_ client: PostgresClient) async throws -> [BenchRow] {
        let ping = DatabasePing(client: client, logger: logger)
        let store = SCADABenchStore(client: client, logger: logger)
        try await store.clearOutageState()
        let baseline = try await LatencySample.measure(iterations: iterations) { _ in
            try await ping.run()
        }
        func row(_ operation: String, _ sample: LatencySample, goal: Double?) -> BenchRow {
            BenchRow(operation: operation, meters: size, path: "SQL", runs: sample.count, p50: sample.p50,
                     p99: sample.p99, baseline: "SELECT 1", baselineP50: baseline.p50, goal: goal)
        }
        let pool = BenchRegistry.poolFeeders(size: size)
        let run = UUID().uuidString.prefix(8)

        let trips = try await measureWrites(iterations: iterations, client: client) { index in
            let (substation, feeder) = pool[index % pool.count]
            return try await store.insertSCADAEventWithMeterCheck(message(substation, feeder, id: "BENCH-\(run)-FT-\(index)"))
        }
        let substation = try await measureWrites(iterations: heavyIterations, client: client) { index in
            try await store.insertSCADAEventWithMeterCheck(message(BenchRegistry.tenThousandSubstation, nil, id: "BENCH-\(run)-SS-\(index)"))
        }
        let lookup1K = try await LatencySample.measure(iterations: iterations) { _ in
            try await store.metersBySubstation(BenchRegistry.thousandSubstation)
        }
        let lookup10K = try await LatencySample.measure(iterations: heavyIterations) { _ in
            try await store.metersBySubstation(BenchRegistry.tenThousandSubstation)
        }
        // The same trips during a storm elsewhere: their cost must follow their device, not the
        // number of outages open in the network.
        try await store.openOutagesElsewhere(
            Self.outagesElsewhere, substations: [BenchRegistry.tenThousandSubstation, BenchRegistry.thousandSubstation])
        let stormTrips: LatencySample
        do {
            stormTrips = try await measureWrites(iterations: iterations, client: client) { index in
                let (substation, feeder) = pool[index % pool.count]
                return try await store.insertSCADAEventWithMeterCheck(
                    message(substation, feeder, id: "BENCH-\(run)-FTS-\(index)"))
            }
        } catch {
            try? await store.closeOutagesElsewhere()
            throw error
        }
        try await store.closeOutagesElsewhere()
        return [
            row("round trip (baseline)", baseline, goal: nil),
            row(Self.feederTrip, trips, goal: 5),
            row(Self.feederTripInStorm, stormTrips, goal: 5),
            row(Self.substationEvent, substation, goal: 30),
            row(Self.lookup1K, lookup1K, goal: 1),
            row(Self.lookup10K, lookup10K, goal: nil),
        ]
    }

    /// Times a SCADA event's write, then undoes it (untimed) so the next run starts from the same state.
    func measureWrites(iterations: Int, client: PostgresClient, _ write: @escaping (Int) async throws -> UUID)
        async throws -> LatencySample
    {
        let store = SCADABenchStore(client: client, logger: logger)
        var lastEvent: UUID?
        return try await LatencySample.measure(iterations: iterations) { index in
            lastEvent = try await write(index)
        } between: { _ in
            if let lastEvent { try await store.undoSCADAEvent(lastEvent) }
        }
    }

    func message(_ substation: String, _ feeder: String?, id: String) -> String {
        let time = ISO8601DateFormatter().string(from: Date())
        let feederField = feeder.map { ", \"feederId\": \"\($0)\"" } ?? ""
        return """
            {"eventId": "\(id)", "eventType": "breaker_trip", "alarmType": "fault", "severity": "critical", \
            "substationId": "\(substation)"\(feederField), "timestamp": "\(time)"}
            """
    }

    // MARK: - HTTP

    func runHTTP() async throws -> [BenchRow] {
        try await LocalServer.with(configuration: configuration, logger: logger) { endpoint in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await measureHTTP(endpoint, client: client)
            }
        }
    }

    func measureHTTP(_ endpoint: LocalServer.Endpoint, client: PostgresClient) async throws -> [BenchRow] {
        func send(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> ByteBuffer {
            try await endpoint.send(method, path, body: body)
        }
        func eventID(_ buffer: ByteBuffer) throws -> UUID {
            try JSONDecoder().decode(SCADACheckSummary.self, from: Data(buffer.readableBytesView)).scadaEventID
        }
        let baseline = try await LatencySample.measure(iterations: iterations) { _ in _ = try await send(.GET, "/health") }
        func row(_ operation: String, _ sample: LatencySample) -> BenchRow {
            BenchRow(operation: operation, meters: size, path: "HTTP", runs: sample.count, p50: sample.p50,
                     p99: sample.p99, baseline: "GET /health", baselineP50: baseline.p50, goal: nil)
        }
        let pool = BenchRegistry.poolFeeders(size: size)
        let run = UUID().uuidString.prefix(8)
        let trips = try await measureWrites(iterations: iterations, client: client) { index in
            let (substation, feeder) = pool[index % pool.count]
            return try eventID(try await send(
                .POST, "/api/v1/scada/events", body: message(substation, feeder, id: "BENCH-\(run)-HFT-\(index)")))
        }
        let substation = try await measureWrites(iterations: heavyIterations, client: client) { index in
            try eventID(try await send(
                .POST, "/api/v1/scada/events", body: message(BenchRegistry.tenThousandSubstation, nil, id: "BENCH-\(run)-HSS-\(index)")))
        }
        let lookup1K = try await LatencySample.measure(iterations: iterations) { _ in
            _ = try await send(.GET, "/api/v1/substations/\(BenchRegistry.thousandSubstation)/meters")
        }
        let lookup10K = try await LatencySample.measure(iterations: heavyIterations) { _ in
            _ = try await send(.GET, "/api/v1/substations/\(BenchRegistry.tenThousandSubstation)/meters")
        }
        return [
            row("GET /health (baseline)", baseline), row(Self.feederTrip, trips), row(Self.substationEvent, substation),
            row(Self.lookup1K, lookup1K), row(Self.lookup10K, lookup10K),
        ]
    }
}
