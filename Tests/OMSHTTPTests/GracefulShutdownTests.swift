import Foundation
import Hummingbird
import Logging
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("a stop asked for during a request lets it finish: the whole batch is stored and answered")
    func inFlightRequestFinishes() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.ingestKAIFA])
            let assets = try await database.client.scalar(
                "SELECT string_agg(asset_mrid, ',' ORDER BY meter_number) FROM oms_meters WHERE asset_mrid IS NOT NULL", as: String.self)
                .split(separator: ",")
            let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
            let events = assets.enumerated().map { index, asset in
                #"{"mRID": "GS-\#(index)", "createdDateTime": "\#(now)", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            }
            let body = "[" + events.joined(separator: ",") + "]"

            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(
                client: client, settings: ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false),
                logger: TestDatabase.logger, onServerRunning: { portContinuation.yield($0) })
            let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: TestDatabase.logger))
            let running = Task { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())

            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/kaifa/events")!)
            request.httpMethod = "POST"
            request.setValue(key, forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
            request.timeoutInterval = 120
            let posted = Task { try await URLSession.shared.data(for: request) }
            // Stop once the batch is being processed (its first rows are visible only at commit,
            // so wait for the server to be busy with it: its session shows the batch's statement).
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, try await database.client.scalar(
                "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%kaifa%' AND pid <> pg_backend_pid()",
                as: Int.self) == 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
            await group.triggerGracefulShutdown()
            let (data, response) = try await posted.value
            try await running.value
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(answer?["applied"] as? Int == events.count)
            let stored = try await database.client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id LIKE 'GS-%'", as: Int.self)
            #expect(stored == events.count)
        }
    }
}
