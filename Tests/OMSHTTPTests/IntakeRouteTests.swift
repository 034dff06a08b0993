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

                // The lag and backlog in /metrics (recorded once the correlator's call has returned,
                // a moment after its commit is visible).
                var metrics = ""
                for _ in 0..<250 {
                    metrics = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: key]) {
                        String(buffer: $0.body)
                    }
                    if metrics.contains("oms_intake_lag_seconds_count 1") { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(metrics.contains("oms_intake_lag_seconds_count 1"))
                #expect(metrics.contains("oms_intake_events_applied_total{feed=\"kaifa\"} 1"))
                #expect(metrics.contains("oms_intake_backlog_events 0"))
                #expect(metrics.contains("oms_feed_events_total{feed=\"kaifa\",outcome=\"accepted\"} 1"))
                // And the backlog in /ready (a probe that timed out on a machine busy with other tests is
                // asked again).
                var ready: [String: Any] = [:]
                for _ in 0..<20 {
                    ready = try await http.execute(uri: "/ready", method: .get) { try json($0) }
                    if ready["intake_backlog_events"] != nil { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
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

/// Synchronous KAIFA and ONU requests applied through the intake (`ServerSettings.meterFeedApplication`).
@Suite("Synchronous meter-feed requests, grouped in the intake")
struct GroupedRouteTests {
    func lastGasp(_ id: String, asset: String, secondsAgo: Int) -> String {
        #"{"mRID": "\#(id)", "createdDateTime": "\#(IntakeRouteTests.time(-secondsAgo))", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
    }

    @Test("grouped: applied by the correlators and answered with the batch's results; direct, and adaptive for requests one at a time: one call, the intake never used", arguments: [
        ServerSettings.MeterFeedApplication.grouped, .direct, .adaptive,
    ])
    func answeredFromTheIntake(application: ServerSettings.MeterFeedApplication) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA, .read])
            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            var settings = ServerSettings(migrateOnStart: false)
            settings.meterFeedApplication = application
            try await withApp(database, settings: settings) { http in
                let headers: HTTPFields = [.contentType: "application/json", .authorization: key]
                let body = """
                    [\(lastGasp("GR-1", asset: asset, secondsAgo: 30)), {"mRID": "GR-2", "createdDateTime": "yesterday"},
                     \(lastGasp("GR-3", asset: asset, secondsAgo: -172_800)), \(lastGasp("GR-1", asset: asset, secondsAgo: 30))]
                    """
                let (status, reply) = try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: body)
                ) { ($0.status, try json($0)) }
                #expect(status == .ok)
                let results = reply["results"] as? [[String: Any]] ?? []
                #expect(results.map { $0["outcome"] as? String } == ["applied", "rejected", "rejected", "duplicate"])
                #expect((results[2]["error"] as? [String: Any])?["field"] as? String == "createdDateTime")
                #expect(((results[2]["error"] as? [String: Any])?["reason"] as? String)?.contains("ahead of the service's clock") == true)
                #expect((results[0]["summary"] as? [String: Any])?["kaifa_event_id"] as? String != nil)
                #expect((results[3]["summary"] as? [String: Any])?["kaifa_event_id"] as? String
                        == (results[0]["summary"] as? [String: Any])?["kaifa_event_id"] as? String)
                #expect(reply["applied"] as? Int == 1 && reply["duplicates"] as? Int == 1 && reply["rejected"] as? Int == 2)
                #expect(try await client.scalar("SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")

                // One message: 201 applied, then 200 duplicate.
                let single = lastGasp("GR-4", asset: asset, secondsAgo: 20)
                for expected in [HTTPResponse.Status.created, .ok] {
                    let (status, reply) = try await http.execute(
                        uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: single)
                    ) { ($0.status, try json($0)) }
                    #expect(status == expected)
                    #expect(reply["outcome"] as? String == (expected == .created ? "applied" : "duplicate"))
                }

                // Nothing left behind; the refused message was answered, not kept apart.
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake", as: Int.self) == 0)
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_answers", as: Int.self) == 0)
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_refused", as: Int.self) == 0)
                #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'GR-3'", as: Int.self) == 0)
                // Through the intake or not, as set.
                let metrics = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: key]) { String(buffer: $0.body) }
                #expect(metrics.contains("oms_intake_events_applied_total{feed=\"kaifa\"} 5") == (application == .grouped))
                #expect(metrics.contains("oms_feed_synchronous_requests_total{feed=\"kaifa\",path=\"direct\"} 3") == (application == .adaptive))
                #expect(metrics.contains("oms_feed_synchronous_requests_total{feed=\"kaifa\",path=\"intake\"} 3") == (application == .grouped))
            }
        }
    }

    @Test("grouped, a request kept as pieces split by substation: answered once every piece is applied, each message's outcome in its place")
    func answeredFromPieces() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA, .read])
            // A meter of each substation (SS001, SS002, SS003: pieces 0, 1 and 0 of the default 2, by rank).
            let assets = try await client.fetch(
                """
                SELECT DISTINCT ON (substation_id) asset_mrid FROM oms_meters
                 WHERE asset_mrid IS NOT NULL AND substation_id IS NOT NULL ORDER BY substation_id, meter_number
                """, logger: TestDatabase.logger).decode(String.self)
            try #require(assets.count == 3)
            try await client.execute("UPDATE oms_settings SET value = '2' WHERE key = 'intake.piece_min_events'")
            var settings = ServerSettings(migrateOnStart: false)
            settings.meterFeedApplication = .grouped
            try await withApp(database, settings: settings) { http in
                let headers: HTTPFields = [.contentType: "application/json", .authorization: key]
                let body = """
                    [\(lastGasp("GP-1", asset: assets[0], secondsAgo: 30)), \(lastGasp("GP-2", asset: assets[1], secondsAgo: 29)),
                     {"mRID": "GP-3", "createdDateTime": "yesterday"}, \(lastGasp("GP-4", asset: assets[2], secondsAgo: 28)),
                     \(lastGasp("GP-1", asset: assets[0], secondsAgo: 30)), \(lastGasp("GP-5", asset: assets[1], secondsAgo: -172_800))]
                    """
                let (status, reply) = try await http.execute(
                    uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: body)
                ) { ($0.status, try json($0)) }
                #expect(status == .ok)
                let results = reply["results"] as? [[String: Any]] ?? []
                #expect(results.map { $0["outcome"] as? String } == ["applied", "applied", "rejected", "applied", "duplicate", "rejected"])
                #expect(results.map { $0["index"] as? Int } == [0, 1, 2, 3, 4, 5])
                let stored = try await client.fetch(
                    "SELECT id::text FROM kaifa_events WHERE source_event_id IN ('GP-1', 'GP-2', 'GP-4') ORDER BY source_event_id",
                    logger: TestDatabase.logger).decode(String.self)
                let summaries = results.map { ($0["summary"] as? [String: Any])?["kaifa_event_id"] as? String }
                #expect(summaries == [stored[0], stored[1], nil, stored[2], stored[0], nil])
                #expect(((results[5]["error"] as? [String: Any])?["field"] as? String) == "createdDateTime")
                // More than one row applied for the one request; nothing left behind.
                let metrics = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: key]) { String(buffer: $0.body) }
                let rows = metrics.split(separator: "\n").first { $0.hasPrefix("oms_intake_lag_seconds_count") }
                    .flatMap { Int($0.split(separator: " ").last ?? "") }
                #expect((rows ?? 0) >= 2, "applied as pieces: \(rows ?? 0) rows")
                #expect(metrics.contains("oms_intake_events_applied_total{feed=\"kaifa\"} 5"))
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake", as: Int.self) == 0)
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_answers", as: Int.self) == 0)
            }
        }
    }

    @Test("adaptive: a request that finds another being applied in its request goes through the intake, and is not held up by it")
    func adaptiveGroupsUnderLoad() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA, .read])
            // Two meters of two substations; the first one's distribution point is held by this
            // connection, so that its request, applied in the request, waits on the lock.
            let meters = try await client.fetch(
                """
                SELECT DISTINCT ON (substation_id) asset_mrid, dp_id::text FROM oms_meters
                 WHERE asset_mrid IS NOT NULL AND dp_id IS NOT NULL ORDER BY substation_id, meter_number
                """, logger: TestDatabase.logger).decode((String, String).self)
            try #require(meters.count >= 2)
            try await withApp(database) { http in
                let headers: HTTPFields = [.contentType: "application/json", .authorization: key]
                func post(_ body: String) async throws -> HTTPResponse.Status {
                    try await http.execute(uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: body)) { $0.status }
                }
                func synchronousCount(_ path: String) async throws -> Int {
                    let text = try await http.execute(uri: "/metrics", method: .get, headers: [.authorization: key]) { String(buffer: $0.body) }
                    let prefix = "oms_feed_synchronous_requests_total{feed=\"kaifa\",path=\"\(path)\"} "
                    return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
                }
                try await client.withConnection { holder in
                    _ = try await holder.query(
                        "SELECT pg_advisory_lock(oms_device_lock_key('dp', \(meters[0].1)::uuid))", logger: TestDatabase.logger
                    ).collect()
                    let first = Task { try await post(lastGasp("AD-1", asset: meters[0].0, secondsAgo: 30)) }
                    // The first is being applied in its request (waiting on the lock) ...
                    for _ in 0..<500 where try await synchronousCount("direct") == 0 { try await Task.sleep(for: .milliseconds(20)) }
                    #expect(try await synchronousCount("direct") == 1)
                    // ... so the second goes through the intake, and is answered while the first still waits.
                    #expect(try await post(lastGasp("AD-2", asset: meters[1].0, secondsAgo: 20)) == .created)
                    #expect(try await synchronousCount("intake") == 1)
                    #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'AD-1'", as: Int.self) == 0)
                    _ = try await holder.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger).collect()
                    #expect(try await first.value == .created)
                }
                #expect(try await client.scalar(
                    "SELECT count(*)::int FROM kaifa_events WHERE source_event_id IN ('AD-1', 'AD-2')", as: Int.self) == 2)
                let paths = (direct: try await synchronousCount("direct"), intake: try await synchronousCount("intake"))
                #expect(paths.direct == 1 && paths.intake == 1)
            }
        }
    }

    @Test("not applied within the limit: 503 with Retry-After naming the intake row; applied later all the same, and a repeat is answered as one")
    func answeredLate() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let key = try await bearer(database, [.ingestKAIFA])
            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
            var settings = ServerSettings(migrateOnStart: false)
            settings.meterFeedApplication = .grouped
            settings.groupedAnswerLimit = 0.5
            let gasp = lastGasp("GL-1", asset: asset, secondsAgo: 30)
            try await withApp(database, settings: settings) { http in
                let headers: HTTPFields = [.contentType: "application/json", .authorization: key]
                // Another correlator (this connection) holds every substation: the row waits.
                let late = try await client.withConnection { other in
                    _ = try await other.query(
                        "SELECT pg_advisory_lock(oms_device_lock_key('intake.substation', s.id)) FROM network_substations s",
                        logger: TestDatabase.logger
                    ).collect()
                    let started = ContinuousClock.now
                    let answer = try await http.execute(
                        uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: gasp)
                    ) { ($0.status, $0.headers[.retryAfter], try json($0), ContinuousClock.now - started) }
                    // Not applied while the claim is held.
                    let stored = try await client.scalar(
                        "SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'GL-1'", as: Int.self)
                    _ = try await other.query("SELECT pg_advisory_unlock_all()", logger: TestDatabase.logger).collect()
                    return (answer.0, answer.1, answer.2, answer.3, stored)
                }
                #expect(late.0 == .serviceUnavailable)
                #expect(late.1 == "5")
                #expect((late.2["detail"] as? String)?.contains("kept in the feed intake") == true)
                #expect(late.3 >= .milliseconds(500))
                #expect(late.4 == 0)

                // Sent again, as a client told 503 does (again while a machine busy with other tests
                // takes longer than the half second): applied after the row kept before it, or with
                // it, and answered as the repeat it is.
                var status = HTTPResponse.Status.serviceUnavailable
                var reply: [String: Any] = [:]
                for _ in 0..<40 where status == .serviceUnavailable {
                    (status, reply) = try await http.execute(
                        uri: "/api/v1/kaifa/events", method: .post, headers: headers, body: ByteBuffer(string: gasp)
                    ) { ($0.status, try json($0)) }
                }
                #expect(status == .ok)
                #expect(reply["outcome"] as? String == "duplicate")
                #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'GL-1'", as: Int.self) == 1)
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake", as: Int.self) == 0)
                // The first row's results (and those of any request answered 503), untaken, wait to be forgotten.
                #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_answers", as: Int.self) >= 1)
            }
        }
    }
}

@Suite("IntakeApplications")
struct IntakeApplicationsTests {
    @Test("a wait ends when its row is announced (before or during the wait), at its limit, when cancelled or forgotten")
    func waits() async throws {
        let applications = IntakeApplications()
        applications.expect(1)
        applications.expect(2)
        // Announced before the wait: it returns at once; announced rows nobody expects are ignored.
        applications.applied([1, 99])
        var start = ContinuousClock.now
        await applications.wait(for: 1, upTo: .seconds(120))
        #expect(ContinuousClock.now - start < .seconds(60))
        // The announcement was used: the next wait lasts its limit.
        start = ContinuousClock.now
        await applications.wait(for: 1, upTo: .milliseconds(100))
        #expect(ContinuousClock.now - start >= .milliseconds(100))

        // Announced during the wait.
        let announced = Task {
            let start = ContinuousClock.now
            await applications.wait(for: 2, upTo: .seconds(120))
            return ContinuousClock.now - start
        }
        try await Task.sleep(for: .milliseconds(100))
        applications.applied([2])
        #expect(await announced.value < .seconds(60))

        // Cancelled, and forgotten.
        let cancelled = Task {
            let start = ContinuousClock.now
            await applications.wait(for: 2, upTo: .seconds(120))
            return ContinuousClock.now - start
        }
        cancelled.cancel()
        #expect(await cancelled.value < .seconds(60))
        let forgotten = Task {
            let start = ContinuousClock.now
            await applications.wait(for: 1, upTo: .seconds(120))
            return ContinuousClock.now - start
        }
        try await Task.sleep(for: .milliseconds(100))
        applications.forget(1)
        applications.forget(2)
        #expect(await forgotten.value < .seconds(60))
        #expect(applications.expectedCount == 0)

        // Many rows announced while their waits begin: none misses its announcement.
        let longest = await withTaskGroup(of: Duration.self) { group in
            for id in Int64(100)..<Int64(150) {
                applications.expect(id)
                group.addTask {
                    let start = ContinuousClock.now
                    await applications.wait(for: id, upTo: .seconds(120))
                    return ContinuousClock.now - start
                }
            }
            for id in Int64(100)..<Int64(150) { applications.applied([id]) }
            var longest = Duration.zero
            for await took in group { longest = max(longest, took) }
            return longest
        }
        #expect(longest < .seconds(60))
    }
}

@Suite("IntakeWakeUp")
struct IntakeWakeUpTests {
    @Test("claimDirect: a request alone is claimed (its arrival ended); not while another arrives, a correlator is busy or another is applied directly")
    func claimDirect() {
        let wakeUp = IntakeWakeUp(loadMemory: .zero)
        // Alone.
        var arrival = wakeUp.arrival()
        let alone = wakeUp.claimDirect(arrival)
        #expect(alone != nil)
        #expect(wakeUp.arriving == 0)
        // Another applied directly meanwhile.
        arrival = wakeUp.arrival()
        #expect(wakeUp.claimDirect(arrival) == nil)
        #expect(wakeUp.arriving == 1)
        arrival.end()
        alone?.end()
        alone?.end()  // (ending twice counts once)
        // Another arriving.
        let other = wakeUp.arrival()
        arrival = wakeUp.arrival()
        #expect(wakeUp.claimDirect(arrival) == nil)
        other.end()
        // A correlator busy, then idle.
        wakeUp.correlatorBusy(true)
        #expect(wakeUp.claimDirect(arrival) == nil)
        wakeUp.correlatorBusy(false)
        let claimed = wakeUp.claimDirect(arrival)
        #expect(claimed != nil)
        claimed?.end()
        #expect(wakeUp.arriving == 0)
    }

    @Test("claimDirect: not while another request is in hand, nor for loadMemory after two were in hand at once")
    func claimDirectUnderLoad() async throws {
        let wakeUp = IntakeWakeUp(loadMemory: .milliseconds(300))
        let first = wakeUp.requestInHand()
        let second = wakeUp.requestInHand()
        let arrival = wakeUp.arrival()
        #expect(wakeUp.claimDirect(arrival) == nil)
        second.end()
        second.end()
        // Alone now, but two were in hand a moment ago: under load still.
        #expect(wakeUp.claimDirect(arrival) == nil)
        try await Task.sleep(for: .milliseconds(400))
        let claimed = wakeUp.claimDirect(arrival)
        #expect(claimed != nil)
        #expect(wakeUp.arriving == 0)
        claimed?.end()
        first.end()
    }

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
