import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSSimulation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

/// Nothing lost under faults (issue 17, items 1–5 and 7). One mixed storm (a substation, feeders and
/// distribution points failing, momentary interruptions, restorations, calls, lost last gasps,
/// repeats, late messages) is replayed with `oms replay`'s at-least-once delivery to `oms serve`
/// child processes while a fault happens. Each run must end exactly as an uninterrupted run does:
/// the same outages (device, status, customers, meters, times, confidence, cause), the same status
/// of every meter, the same number of rows in every feed and audit table (nothing lost, nothing
/// counted twice), and the same `oms score`.
@Suite("Nothing lost under faults", .serialized)
struct FaultTests: RunsOMSCommands {
    /// What a run left behind, compared between runs.
    struct Outcome: Sendable, Equatable {
        /// One line per outage, per meter and per table count (`FaultTests.stateQuery`), sorted.
        var state: [String]
        var score: Score

        /// What the order two services applied the feeds in cannot change: the rows of each feed
        /// table (each message stored once) and each meter's power and communication status.
        var orderFree: [String] {
            state.compactMap { line -> String? in
                let fields = line.split(separator: "|", omittingEmptySubsequences: false)
                switch fields.first {
                case "meter": return fields.prefix(4).joined(separator: "|")
                case "rows": return fields[1].hasPrefix("oms_") ? nil : line
                default: return nil
                }
            }
        }
    }

    /// The parts of `oms score` a fault must not change (not the latencies: a restart costs time).
    struct Score: Sendable, Equatable {
        var outages: Int
        var found: Int
        var customersFound: Int
        var restoredOutages: Int
        var momentaryFlagged: Int
        var falseOutages: Int

        init(_ card: ScoreCard) {
            outages = card.outages
            found = card.found
            customersFound = card.customersFound
            restoredOutages = card.restoredOutages
            momentaryFlagged = card.momentaryFlagged
            falseOutages = card.falseOutages.values.reduce(0, +)
        }
    }

    /// The database's state as sorted lines: every outage by its device (not its generated ids),
    /// every meter's statuses, and the row count of each feed and audit table.
    static let stateQuery = """
        SELECT 'outage|' || coalesce(s.substation_id, '-') || '|' || coalesce(f.feeder_id, '-') || '|'
               || coalesce(d.dp_id, '-') || '|' || o.status || '|' || o.affected_customers_count || '|'
               || o.affected_meters_count || '|' || o.first_detected_at || '|'
               || coalesce(o.actual_restoration_time::text, '-') || '|' || o.confidence_score || '|'
               || coalesce(o.root_cause, '-')
          FROM oms_outage_events o
          LEFT JOIN network_substations s ON s.id = o.substation_id
          LEFT JOIN network_feeders f ON f.id = o.feeder_id
          LEFT JOIN network_distribution_points d ON d.id = o.dp_id
        UNION ALL
        SELECT 'meter|' || meter_number || '|' || power_status || '|' || communication_status || '|'
               || coalesce(last_power_change::text, '-') || '|' || coalesce(last_communication::text, '-')
          FROM oms_meters
        UNION ALL SELECT 'rows|scada_events|' || count(*) FROM scada_events
        UNION ALL SELECT 'rows|onu_events|' || count(*) FROM onu_events
        UNION ALL SELECT 'rows|kaifa_events|' || count(*) FROM kaifa_events
        UNION ALL SELECT 'rows|callcenter_tickets|' || count(*) FROM callcenter_tickets
        UNION ALL SELECT 'rows|scada_event_affected_meters|' || count(*) FROM scada_event_affected_meters
        UNION ALL SELECT 'rows|oms_meter_status_events|' || count(*) FROM oms_meter_status_events
        UNION ALL SELECT 'rows|oms_event_sources|' || count(*) FROM oms_event_sources
        UNION ALL SELECT 'rows|oms_event_timeline|' || count(*) FROM oms_event_timeline
        UNION ALL SELECT 'rows|oms_outage_meters|' || count(*) FROM oms_outage_meters
        UNION ALL SELECT 'rows|oms_device_state_history|' || count(*) FROM oms_device_state_history
        ORDER BY 1
        """

    /// The uninterrupted run every fault is compared with, made once per test process.
    actor Reference {
        static let shared = Reference()
        private var run: Task<Outcome, any Error>?

        func outcome(_ make: @escaping @Sendable () async throws -> Outcome) async throws -> Outcome {
            if let run { return try await run.value }
            let task = Task { try await make() }
            run = task
            return try await task.value
        }
    }

    // MARK: - The scenario and one run

    /// Writes the storm (deterministic: fixed seeds) into `folder`: `net/` and `storm/`.
    func writeScenario(in folder: String) async throws {
        try await run(["simulate", "network", "--substations", "2", "--feeders-per-substation", "3",
                       "--dps-per-feeder", "5", "--meters", "1200", "--seed", "7", "--out", "\(folder)/net"])
        try await run(["simulate", "scenario", "--network", "\(folder)/net", "--kind", "mixed", "--seed", "7",
                       "--out", "\(folder)/storm"])
    }

    /// The storm's deliveries, in order.
    func deliveries(_ folder: String) throws -> [Delivery] {
        try ScenarioFiles.readDeliveries("\(folder)/storm/\(ScenarioFiles.events)")
    }

    /// Migrates the database at `url`, imports the network, and makes an admin key.
    func prepare(url: String, folder: String) async throws -> String {
        try await run(["migrate", "--database-url", url])
        try await run(["import", "\(folder)/net", "--database-url", url])
        let configuration = try DatabaseURL(url).clientConfiguration()
        return try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
            try await APIKeyStore(client: client, logger: TestDatabase.logger).create(scopes: [.admin], name: "faults").key
        }
    }

    /// Replays `deliveries` to `base` with at-least-once delivery (two minutes per request), as fast
    /// as the service answers, or at `speed` scenario seconds per second.
    func replay(_ deliveries: [Delivery], to base: String, key: String, speed: Double? = nil) async throws -> Replayer.Report {
        try await Replayer(deliveries: deliveries, speed: speed, batch: 500, retryFor: .seconds(120))
            .run(base: base, key: key, http: .shared, progress: { _ in })
    }

    /// The state and the score of the database at `url` after a replay with `log`.
    func outcome(url: String, folder: String, log: DeliveryLog) async throws -> Outcome {
        let logPath = "\(folder)/delivery-\(UUID().uuidString.prefix(6)).json"
        try ScenarioFiles.write(log, to: logPath)
        let cardPath = "\(folder)/score-\(UUID().uuidString.prefix(6)).json"
        try await run(["score", "\(folder)/storm", "--database-url", url, "--delivery", logPath, "--json", cardPath])
        let card = try JSONDecoder().decode(ScoreCard.self, from: Data(contentsOf: URL(fileURLWithPath: cardPath)))
        let configuration = try DatabaseURL(url).clientConfiguration()
        let state = try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
            try await client.fetch(PostgresQuery(unsafeSQL: Self.stateQuery), logger: TestDatabase.logger).decode(String.self)
        }
        return Outcome(state: state, score: Score(card))
    }

    /// The uninterrupted run: one `oms serve`, the whole storm, no fault.
    func reference() async throws -> Outcome {
        try await Reference.shared.outcome {
            try await withScratchFolder { folder in
                try await writeScenario(in: folder)
                return try await TestDatabase.with(.migrated) { database in
                    let url = try await TestDatabase.server().connectionURL(database: database.name)
                    let key = try await prepare(url: url, folder: folder)
                    let service = try await ServeProcess.start(databaseURL: url, port: try closedTCPPort(), logFile: "\(folder)/serve.log")
                    let report: Replayer.Report
                    do {
                        report = try await replay(try deliveries(folder), to: service.base, key: key)
                        await service.stop()
                    } catch {
                        await service.kill9()
                        throw error
                    }
                    #expect(report.retries == 0 && report.rejected == 0, "\(report.summary)")
                    let outcome = try await outcome(url: url, folder: folder, log: report.log)
                    #expect(outcome.score.found > 0 && outcome.state.contains { $0.hasPrefix("outage|") })
                    return outcome
                }
            }
        }
    }

    /// Waits until the database holds at least `count` status changes (how far the replay got).
    func whenStored(_ count: Int, url: String) async throws {
        let configuration = try DatabaseURL(url).clientConfiguration()
        try await DatabaseBootstrap.withClient(configuration, logger: TestDatabase.logger) { client in
            let deadline = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < deadline {
                let stored = try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self)
                if stored >= count { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("the replay never stored \(count) status changes")
        }
    }

    /// Compares two outcomes line by line, naming the first differences.
    func expectSame(_ outcome: Outcome, as reference: Outcome, _ what: String) {
        #expect(outcome.score == reference.score, "\(what): score")
        let missing = Set(reference.state).subtracting(outcome.state).sorted()
        let extra = Set(outcome.state).subtracting(reference.state).sorted()
        /// The first few lines of each kind (outage, meter, rows).
        func sample(_ lines: [String]) -> String {
            Dictionary(grouping: lines) { $0.prefix { $0 != "|" } }
                .sorted { $0.key < $1.key }
                .map { "\($0.value.count) \($0.key): \($0.value.prefix(6).joined(separator: "; "))" }
                .joined(separator: "\n")
        }
        #expect(missing.isEmpty && extra.isEmpty && outcome.state.count == reference.state.count,
                "\(what):\nmissing\n\(sample(missing))\nextra\n\(sample(extra))")
    }

    // MARK: - The faults

    @Test("the same storm replayed twice: the second replay is all repeats and changes nothing")
    func replayedTwice() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let key = try await prepare(url: url, folder: folder)
                let service = try await ServeProcess.start(databaseURL: url, port: try closedTCPPort(), logFile: "\(folder)/serve.log")
                let first: Replayer.Report, second: Replayer.Report, once: Outcome
                do {
                    first = try await replay(try deliveries(folder), to: service.base, key: key)
                    once = try await outcome(url: url, folder: folder, log: first.log)
                    second = try await replay(try deliveries(folder), to: service.base, key: key)
                } catch {
                    await service.kill9()
                    throw error
                }
                await service.stop()
                expectSame(once, as: reference, "one replay")
                #expect(second.applied == 0 && second.late == 0 && second.rejected == 0, "\(second.summary)")
                #expect(second.duplicates == second.events && second.events == first.events)
                expectSame(try await outcome(url: url, folder: folder, log: first.log), as: once, "replayed twice")
            }
        }
    }

    @Test("kill -9 of oms serve three times during a replay, restarted each time: the same end as without")
    func killedService() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let key = try await prepare(url: url, folder: folder)
                let port = try closedTCPPort()
                let logFile = "\(folder)/serve.log"
                let first = try await ServeProcess.start(databaseURL: url, port: port, logFile: logFile)
                let deliveries = try deliveries(folder)
                async let replayed = replay(deliveries, to: first.base, key: key)
                var service = first
                do {
                    for stored in [400, 1500, 2800] {
                        try await whenStored(stored, url: url)
                        await service.kill9()
                        service = try await ServeProcess.start(databaseURL: url, port: port, logFile: logFile)
                    }
                } catch {
                    await service.kill9()
                    _ = try? await replayed
                    throw error
                }
                let report = try await replayed
                await service.stop()
                #expect(report.retries > 0, "a killed service left requests unanswered: \(report.summary)")
                #expect(report.rejected == 0)
                expectSame(try await outcome(url: url, folder: folder, log: report.log), as: reference, "killed three times")
            }
        }
    }

    @Test("PostgreSQL stopped hard (immediate) during a storm: the service answers 503, not 500, and carries on without a restart")
    func databaseStoppedHard() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.withPrivateServer(durable: true) { server in
                let maintenance = try server.clientConfiguration(database: "postgres")
                try await DatabaseBootstrap.createDatabaseIfNeeded("faults", maintenance: maintenance, logger: TestDatabase.logger)
                let url = try server.connectionURL(database: "faults")
                let key = try await prepare(url: url, folder: folder)
                let service = try await ServeProcess.start(databaseURL: url, port: try closedTCPPort(), logFile: "\(folder)/serve.log")
                async let replayed = replay(try deliveries(folder), to: service.base, key: key)
                do {
                    try await whenStored(1200, url: url)
                    #expect(try await server.stop(immediately: true))
                    // Meanwhile: 503 with Retry-After for a feed, /ready 503, /health 200; no crash.
                    let again = try deliveries(folder)[0]
                    var request = HTTPClientRequest(url: service.base + again.feed.path)
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(key)")
                    request.headers.add(name: "Content-Type", value: again.contentType)
                    request.body = .bytes(ByteBuffer(string: again.body))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    #expect(response.status.code == 503 && response.headers.first(name: "Retry-After") != nil,
                            "while the database is down: \(response.status)")
                    #expect(try await service.status(of: "/ready") == 503)
                    #expect(try await service.status(of: "/health") == 200)
                    try await Task.sleep(for: .seconds(2))
                    #expect(service.isRunning)
                    _ = try await server.start()
                } catch {
                    _ = try? await server.start()
                    await service.kill9()
                    _ = try? await replayed
                    throw error
                }
                let report = try await replayed
                #expect(service.isRunning, "the service recovered without a restart")
                await service.stop()
                #expect(report.retries > 0, "the stop was seen: \(report.summary)")
                expectSame(try await outcome(url: url, folder: folder, log: report.log), as: reference, "database stopped hard")
            }
        }
    }

    @Test("two oms serve instances on one database, each feed to its own: the same end as one instance")
    func twoInstancesByFeed() async throws {
        let reference = try await reference()
        try await withTwoInstances { one, two, key, url, folder in
            // SCADA and KAIFA to one service, ONU and calls to the other, in the storm's order (each
            // request answered before the next goes): whatever a service keeps in its own memory
            // (remembered keys, the engine's sweeper, the stream) must not change what is stored.
            let all = try deliveries(folder)
            var reports: [Replayer.Report] = []
            var start = 0
            while start < all.count {
                let toOne = [FeedKind.scada, .kaifa].contains(all[start].feed)
                var end = start + 1
                while end < all.count, [FeedKind.scada, .kaifa].contains(all[end].feed) == toOne { end += 1 }
                reports.append(try await replay(Array(all[start..<end]), to: toOne ? one.base : two.base, key: key))
                start = end
            }
            #expect(reports.allSatisfy { $0.retries == 0 && $0.rejected == 0 }, "no error reached a client")
            var log = reports[0].log
            log.requests = reports.flatMap(\.log.requests)
            expectSame(try await outcome(url: url, folder: folder, log: log), as: reference, "two instances, by feed")
        }
    }

    @Test("two oms serve instances on one database, the storm split at random and sent at once: no error to a client, nothing lost, the same meters out and failures found")
    func twoInstancesAtOnce() async throws {
        let reference = try await reference()
        try await withTwoInstances { one, two, key, url, folder in
            let all = try deliveries(folder)
            var random = SystemRandomNumberGenerator()
            let toOne = all.map { _ in Bool.random(using: &random) }
            async let first = replay(zip(all, toOne).filter { $0.1 }.map(\.0), to: one.base, key: key)
            async let second = replay(zip(all, toOne).filter { !$0.1 }.map(\.0), to: two.base, key: key)
            let reports = try await [first, second]
            // Conflicts between the two (the same meter, outage or device at once) are retried
            // inside the service: a client sees no error and no 503.
            #expect(reports.allSatisfy { $0.retries == 0 && $0.rejected == 0 }, "no error reached a client")
            var log = reports[0].log
            log.requests = reports.flatMap(\.log.requests).sorted { $0.firstSeq < $1.firstSeq }
            let outcome = try await outcome(url: url, folder: folder, log: log)
            // Two senders as fast as they can reorder the feeds by minutes of the storm's time
            // (one half runs ahead of the other), as no real feed does: which predictions the
            // engine made on the way may differ, so this compares what order cannot change.
            #expect(outcome.orderFree == reference.orderFree, "feed rows stored once each, every meter's status")
            #expect(outcome.score.found == reference.score.found && outcome.score.customersFound == reference.score.customersFound)
        }
    }

    /// Runs `body` with two `oms serve` processes on one prepared database; both stopped after.
    func withTwoInstances(
        _ body: @Sendable (ServeProcess, ServeProcess, String, String, String) async throws -> Void
    ) async throws {
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let key = try await prepare(url: url, folder: folder)
                let one = try await ServeProcess.start(databaseURL: url, port: try closedTCPPort(), logFile: "\(folder)/one.log")
                do {
                    let two = try await ServeProcess.start(databaseURL: url, port: try closedTCPPort(), logFile: "\(folder)/two.log")
                    do {
                        try await body(one, two, key, url, folder)
                    } catch {
                        await two.kill9()
                        throw error
                    }
                    await two.stop()
                } catch {
                    await one.kill9()
                    throw error
                }
                await one.stop()
            }
        }
    }

    @Test("a slow database (each packet 20 ms late), then a stalled one (every byte held 10 s) during a storm: 503 with Retry-After, never a 500; the same end")
    func slowDatabase() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.with(.migrated) { database in
                let server = try await TestDatabase.server()
                let url = try server.connectionURL(database: database.name)
                let key = try await prepare(url: url, folder: folder)
                let socket = try #require(try server.layout()).socketPath
                let proxy = try await DatabaseProxy.start(upstreamSocket: socket)
                let proxied = "postgresql://postgres@127.0.0.1:\(proxy.port)/\(database.name)"
                // The service's own connect limit (5 s), not the suite's generous one.
                let service: ServeProcess
                do {
                    service = try await ServeProcess.start(
                        databaseURL: proxied, port: try closedTCPPort(), logFile: "\(folder)/serve.log", arguments: ["--connect-timeout", "5"])
                } catch {
                    await proxy.close()
                    throw error
                }
                let all = try deliveries(folder)
                async let replayed = replay(all, to: service.base, key: key)
                do {
                    try await whenStored(800, url: url)
                    proxy.setDelay(.milliseconds(20))
                    try await whenStored(1600, url: url)
                    proxy.pause()
                    // Stalled: a request is answered 503 with Retry-After within the gate's bounds
                    // (a 2 s wait, then a 5 s connection attempt), not held and not a 500.
                    var request = HTTPClientRequest(url: service.base + all[0].feed.path)
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(key)")
                    request.headers.add(name: "Content-Type", value: all[0].contentType)
                    request.body = .bytes(ByteBuffer(string: all[0].body))
                    let asked = ContinuousClock.now
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    let waited = ContinuousClock.now - asked
                    #expect(response.status.code == 503 && response.headers.first(name: "Retry-After") != nil,
                            "while the database is stalled: \(response.status)")
                    #expect(waited < .seconds(20), "answered after \(waited)")
                    let stalledFor = ContinuousClock.now - asked
                    if stalledFor < .seconds(10) { try await Task.sleep(for: .seconds(10) - stalledFor) }
                    #expect(service.isRunning)
                    proxy.resume()
                    proxy.setDelay(.zero)
                } catch {
                    proxy.resume()
                    await service.kill9()
                    _ = try? await replayed
                    await proxy.close()
                    throw error
                }
                let report: Replayer.Report
                do {
                    report = try await replayed
                } catch {
                    await service.kill9()
                    await proxy.close()
                    throw error
                }
                await service.stop()
                await proxy.close()
                #expect(report.retries > 0 && report.rejected == 0, "the stall was seen as 503s and retried: \(report.summary)")
                expectSame(try await outcome(url: url, folder: folder, log: report.log), as: reference, "slow, then stalled database")
            }
        }
    }

    @Test("an upgrade while serving: the new version's oms migrate runs under load, then the service restarts; nothing lost")
    func upgradeWhileServing() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let key = try await prepare(url: url, folder: folder)
                let port = try closedTCPPort()
                let old = try await ServeProcess.start(databaseURL: url, port: port, logFile: "\(folder)/serve.log")
                async let replayed = replay(try deliveries(folder), to: old.base, key: key)
                var service = old
                do {
                    try await whenStored(1000, url: url)
                    // The installed functions are an older release's: the new oms migrate applies
                    // every current file again (CREATE OR REPLACE) while the old service is busy.
                    try await database.client.execute("UPDATE oms_schema_current_files SET checksum = 'an older release'")
                    try await run(["migrate", "--database-url", url])
                    #expect(try await database.client.scalar(
                        "SELECT count(*)::int FROM oms_schema_current_files WHERE checksum = 'an older release'", as: Int.self) == 0)
                    // Then the new binary takes over: a graceful stop and a start on the same port.
                    #expect(await old.stop() == 0)
                    service = try await ServeProcess.start(databaseURL: url, port: port, logFile: "\(folder)/serve.log")
                } catch {
                    await service.kill9()
                    _ = try? await replayed
                    throw error
                }
                let report = try await replayed
                await service.stop()
                #expect(report.rejected == 0)
                expectSame(try await outcome(url: url, folder: folder, log: report.log), as: reference, "upgraded while serving")
            }
        }
    }
}
