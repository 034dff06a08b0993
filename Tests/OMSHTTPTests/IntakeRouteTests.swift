import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// `Prefer: respond-async` on the feed routes: answered once the messages are kept in the feed
/// intake, applied behind the answer by the application's correlators (`IntakeCorrelator`).
@Suite("Feed routes with Prefer: respond-async")
struct IntakeRouteTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    /// Polls until `query` counts `expected` (10 s at most); the last count.
    func eventually(_ query: PostgresQuery, equals expected: Int, on client: PostgresClient) async throws -> Int {
        var count = -1
        for _ in 0..<500 {
            count = try await client.scalar(query, as: Int.self)
            if count == expected { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return count
    }

    @Test("202 once kept; the correlators apply the batch behind the answer; refused items answered at once")
    func acceptedThenApplied() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA, .read])
            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            let good = #"{"mRID": "IR-1", "createdDateTime": "\#(Self.time(-30))", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            let bad = #"{"mRID": "IR-2", "createdDateTime": "yesterday", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            try await withApp(database) { http in
                let headers: HTTPFields = [.contentType: "application/json", .authorization: key, HTTPField.Name("Prefer")!: "respond-async"]
                let (status, applied, reply) = try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: "[\(good), \(bad)]")
                ) { ($0.status, $0.headers[HTTPField.Name("Preference-Applied")!], try json($0)) }
                #expect(status == .accepted)
                #expect(applied == "respond-async")
                #expect(reply["outcome"] as? String == "accepted")
                #expect(reply["accepted"] as? Int == 1)
                #expect(reply["rejected"] as? Int == 1)
                #expect(reply["intake_id"] as? Int != nil)
                #expect(ISO8601Time.parse(reply["received_at"] as? String ?? "") != nil)
                let results = reply["results"] as? [[String: Any]] ?? []
                #expect(results.count == 1)
                #expect(results.first?["index"] as? Int == 1)
                #expect(results.first?["outcome"] as? String == "rejected")
                #expect((results.first?["error"] as? [String: Any])?["field"] as? String == "createdDateTime")

                // Applied behind the answer, once; the intake is empty again.
                #expect(try await eventually("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'IR-1' AND outage_event_id IS NOT NULL",
                                             equals: 1, on: client) == 1)
                #expect(try await eventually("SELECT count(*)::int FROM oms_feed_intake", equals: 0, on: client) == 0)
                #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'IR-2'", as: Int.self) == 0)
                #expect(try await client.scalar("SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")

                // The lag and backlog in /metrics.
                let metrics = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: key]) {
                    String(buffer: $0.body)
                }
                #expect(metrics.contains("oms_intake_lag_seconds_count 1"))
                #expect(metrics.contains("oms_intake_events_applied_total{feed=\"kaifa\"} 1"))
                #expect(metrics.contains("oms_intake_backlog_events 0"))
                #expect(metrics.contains("oms_feed_events_total{feed=\"kaifa\",outcome=\"accepted\"} 1"))
                // And the backlog in /ready.
                let ready = try await http.execute(uri: "/ready", method: .get) { try json($0) }
                #expect(ready["intake_backlog_events"] as? Int == 0)
                #expect(ready.keys.contains("intake_oldest_seconds") == false || ready["intake_oldest_seconds"] is NSNull)
            }
        }
    }

    @Test("nothing that decodes: 400 naming the field, nothing kept; without the preference, applied before the answer")
    func refusedOrSynchronous() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA])
            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            let good = #"{"mRID": "IR-3", "createdDateTime": "\#(Self.time(-30))", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            let bad = #"{"mRID": "IR-4", "createdDateTime": "yesterday", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            try await withApp(database) { http in
                let refused = try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post,
                    headers: [.contentType: "application/json", .authorization: key, HTTPField.Name("Prefer")!: "wait=5, respond-async"],
                    body: ByteBuffer(string: bad)
                ) { ($0.status, $0.headers[.contentType]) }
                #expect(refused.0 == .badRequest)
                #expect(refused.1 == "application/problem+json")
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake", as: Int.self) == 0)

                let synchronous = try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: [.contentType: "application/json", .authorization: key],
                    body: ByteBuffer(string: good)
                ) { ($0.status, try json($0)) }
                #expect(synchronous.0 == .created)
                #expect(synchronous.1["outcome"] as? String == "applied")
                #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'IR-3'", as: Int.self) == 1)
            }
        }
    }
}

@Suite("IntakeWakeUp")
struct IntakeWakeUpTests {
    @Test("a wait ends when woken, at its limit, or when its task is cancelled; a wake is not lost on a wait just begun")
    func waits() async throws {
        let wakeUp = IntakeWakeUp()
        let woken = Task {
            let start = ContinuousClock.now
            await wakeUp.wait(upTo: .seconds(120))
            return ContinuousClock.now - start
        }
        try await Task.sleep(for: .milliseconds(200))
        wakeUp.wake()
        #expect(await woken.value < .seconds(60))

        let start = ContinuousClock.now
        await wakeUp.wait(upTo: .milliseconds(100))
        #expect(ContinuousClock.now - start >= .milliseconds(100))

        let cancelled = Task {
            let start = ContinuousClock.now
            await wakeUp.wait(upTo: .seconds(120))
            return ContinuousClock.now - start
        }
        cancelled.cancel()
        #expect(await cancelled.value < .seconds(60))

        // Many waits, woken again and again while they begin: each ends well before its limit.
        let longest = await withTaskGroup(of: Duration?.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let start = ContinuousClock.now
                    await wakeUp.wait(upTo: .seconds(120))
                    return ContinuousClock.now - start
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    wakeUp.wake()
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return nil
            }
            var longest = Duration.zero
            var ended = 0
            while let result = await group.next() {
                if let took = result { longest = max(longest, took) }
                ended += 1
                if ended == 50 { group.cancelAll() }
            }
            return longest
        }
        #expect(longest < .seconds(60))
    }
}
