import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSSimulation
@testable import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

@testable import OMSCLI

/// Nothing lost under faults (issue 17, items 1–7 and 12). One mixed storm (a substation, feeders and
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

    /// The state and the score of the storm's database after a replay with `log`.
    func outcome(_ storm: Storm, log: DeliveryLog) async throws -> Outcome {
        try await outcome(url: storm.url, folder: storm.folder, log: log)
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
            try await withPreparedStorm { storm in
                let report = try await replayStorm(storm) { _ in }
                #expect(report.retries == 0 && report.rejected == 0, "\(report.summary)")
                let outcome = try await outcome(storm, log: report.log)
                #expect(outcome.score.found > 0 && outcome.state.contains { $0.hasPrefix("outage|") })
                return outcome
            }
        }
    }

    /// A storm ready to replay: its folder, the URL of a database holding its network, an admin key.
    struct Storm: Sendable {
        let folder: String
        let url: String
        let key: String
    }

    /// Writes the storm into a scratch folder and prepares a test database for it.
    func withPreparedStorm<T: Sendable>(_ body: @Sendable (Storm) async throws -> T) async throws -> T {
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            return try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                return try await body(Storm(folder: folder, url: url, key: try await prepare(url: url, folder: folder)))
            }
        }
    }

    /// The `oms serve` of a run, which a fault may replace (killed and started again, restarted).
    final class RunningService: Sendable {
        private let current: Mutex<ServeProcess>
        init(_ service: ServeProcess) { current = Mutex(service) }
        var service: ServeProcess { current.withLock { $0 } }

        /// Stops the service (`kill -9`, or gracefully) and starts it again on the same port.
        func restart(killing: Bool) async throws {
            let old = service
            if killing { await old.kill9() } else { #expect(await old.stop() == 0, "a graceful stop") }
            let new = try await ServeProcess.start(databaseURL: old.databaseURL, port: old.port, logFile: old.logFile, arguments: old.arguments)
            current.withLock { $0 = new }
        }
    }

    /// Replays the whole storm to a service on the storm's database (or `databaseURL`) while `fault`
    /// runs, then stops the service; the replay's report. On an error the service is killed (and the
    /// replay, cancelled, ends) before it is thrown.
    func replayStorm(
        _ storm: Storm, databaseURL: String? = nil, arguments: [String] = [], during fault: @Sendable (RunningService) async throws -> Void
    ) async throws -> Replayer.Report {
        let running = RunningService(try await ServeProcess.start(
            databaseURL: databaseURL ?? storm.url, port: try closedTCPPort(), logFile: "\(storm.folder)/serve.log", arguments: arguments))
        async let replayed = replay(try deliveries(storm.folder), to: running.service.base, key: storm.key)
        do {
            try await fault(running)
            let report = try await replayed
            // Stopped with SIGTERM (SIGKILL after 30 s); its exit status is not this test's subject: a
            // loaded CI run once saw a non-zero one after the database had been stopped under it.
            await running.service.stop()
            return report
        } catch {
            await running.service.kill9()
            throw error
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

    /// Keeps what a failed fault run leaves for whoever chases it, in `/tmp/oms-NAME-*`: the given
    /// logs, the replay's summary and its delivery log (when each request was sent and answered).
    func keepEvidence(_ name: String, report: Replayer.Report, files: [(String, String)]) throws {
        let evidence = FileManager.default.temporaryDirectory.appendingPathComponent("oms-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: evidence, withIntermediateDirectories: true)
        for (file, path) in files {
            try? FileManager.default.copyItem(atPath: path, toPath: "\(evidence)/\(file)")
        }
        try Data((report.summary + "\n" + report.problems.joined(separator: "\n")).utf8)
            .write(to: URL(fileURLWithPath: "\(evidence)/replay.txt"))
        try ScenarioFiles.write(report.log, to: "\(evidence)/delivery.json")
        Issue.record("\(name): evidence kept in \(evidence)")
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
        try await withPreparedStorm { storm in
            let first = try await replayStorm(storm) { _ in }
            let once = try await outcome(storm, log: first.log)
            expectSame(once, as: reference, "one replay")
            let second = try await replayStorm(storm) { _ in }
            #expect(second.applied == 0 && second.late == 0 && second.rejected == 0, "\(second.summary)")
            #expect(second.duplicates == second.events && second.events == first.events)
            expectSame(try await outcome(storm, log: first.log), as: once, "replayed twice")
        }
    }

    @Test("kill -9 of oms serve three times during a replay, restarted each time: the same end as without")
    func killedService() async throws {
        let reference = try await reference()
        try await withPreparedStorm { storm in
            let report = try await replayStorm(storm) { running in
                for stored in [400, 1500, 2800] {
                    try await whenStored(stored, url: storm.url)
                    try await running.restart(killing: true)
                }
            }
            #expect(report.retries > 0, "a killed service left requests unanswered: \(report.summary)")
            #expect(report.rejected == 0)
            expectSame(try await outcome(storm, log: report.log), as: reference, "killed three times")
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
                let storm = Storm(folder: folder, url: url, key: try await prepare(url: url, folder: folder))
                let report = try await replayStorm(storm, arguments: ["--log-level", "info"]) { running in
                    let service = running.service
                    try await whenStored(1200, url: url)
                    #expect(try await server.stop(immediately: true))
                    do {
                        // Meanwhile: 503 with Retry-After for a feed, /ready 503, /health 200; no crash.
                        let answer = try await post(try deliveries(folder)[0], to: service, key: storm.key)
                        #expect(answer.status == 503 && answer.retryAfter != nil, "while the database is down: \(answer.status)")
                        #expect(try await service.status(of: "/ready") == 503)
                        #expect(try await service.status(of: "/health") == 200)
                        try await Task.sleep(for: .seconds(2))
                        #expect(service.isRunning)
                    } catch {
                        _ = try? await server.start()
                        throw error
                    }
                    _ = try await server.start()
                }
                #expect(report.retries > 0 && report.rejected == 0, "the stop was seen: \(report.summary)")
                // The same process served the whole replay (replayStorm never restarts it): a crash would have ended it.
                let after = try await outcome(storm, log: report.log)
                if after != reference {
                    try keepEvidence("stopped-hard", report: report, files: [
                        ("serve.log", "\(folder)/serve.log"), ("postgres.log", try #require(try server.layout()).logFile)])
                }
                expectSame(after, as: reference, "database stopped hard")
            }
        }
    }

    @Test("a slow database (each packet 20 ms late), then a stalled one (every byte held 10 s) during a storm: 503 with Retry-After within seconds, never a 500; the same end")
    func slowDatabase() async throws {
        let reference = try await reference()
        try await withPreparedStorm { storm in
            let server = try await TestDatabase.server()
            let proxy = try await DatabaseProxy.start(upstreamSocket: try #require(try server.layout()).socketPath)
            let database = try #require(storm.url.split(separator: "?").first?.split(separator: "/").last)
            let report: Replayer.Report
            do {
                // The service's own connect limit (5 s), not the suite's generous one.
                report = try await replayStorm(
                    storm, databaseURL: "postgresql://postgres@127.0.0.1:\(proxy.port)/\(database)", arguments: ["--connect-timeout", "5"]
                ) { running in
                    defer { proxy.resume() }
                    try await whenStored(800, url: storm.url)
                    proxy.setDelay(.milliseconds(20))
                    try await whenStored(1600, url: storm.url)
                    proxy.pause()
                    // Stalled: a request is answered 503 with Retry-After within the gate's bounds (a 2 s
                    // wait, then a 5 s connection attempt), not held until the database wakes.
                    let asked = ContinuousClock.now
                    let answer = try await post(try deliveries(storm.folder)[0], to: running.service, key: storm.key)
                    let waited = ContinuousClock.now - asked
                    #expect(answer.status == 503 && answer.retryAfter != nil, "while the database is stalled: \(answer.status)")
                    #expect(waited < .seconds(20), "answered after \(waited)")
                    if waited < .seconds(10) { try await Task.sleep(for: .seconds(10) - waited) }
                    #expect(running.service.isRunning)
                    proxy.setDelay(.zero)
                }
            } catch {
                await proxy.close()
                throw error
            }
            await proxy.close()
            #expect(report.retries > 0 && report.rejected == 0, "the stall was seen as 503s and retried: \(report.summary)")
            expectSame(try await outcome(storm, log: report.log), as: reference, "slow, then stalled database")
        }
    }

    /// In CI since session 2026-12-06 (5). It failed now and then (and so did the crash test above),
    /// the promoted standby lacking the one or two messages answered in the primary's last
    /// milliseconds: the service answered at the statement's CommandComplete, before PostgreSQL had
    /// committed (at Sync) and the standby had confirmed. Found on 2026-12-07 from the logs this
    /// test keeps (`keepEvidence`: the request answered 201 9 ms before the primary's shutdown; 4 of 5
    /// runs failed); fixed in `FetchedRows` (an answer waits for the commit).
    @Test("failover: the primary dies during a storm, its synchronous standby is promoted and the service carries on against it; nothing acknowledged is lost")
    func failover() async throws {
        let reference = try await reference()
        try await withScratchFolder { folder in
            try await writeScenario(in: folder)
            try await TestDatabase.withPrivateServer(durable: true) { primary in
                let maintenance = try primary.clientConfiguration(database: "postgres")
                try await DatabaseBootstrap.createDatabaseIfNeeded("faults", maintenance: maintenance, logger: TestDatabase.logger)
                let storm = Storm(folder: folder, url: try primary.connectionURL(database: "faults"),
                                  key: try await prepare(url: try primary.connectionURL(database: "faults"), folder: folder))
                let standby = try await startStandby(of: primary, in: "\(folder)/standby")
                do {
                    // Synchronous: a commit is acknowledged once the standby has it, so a failover loses
                    // nothing a client was told was stored.
                    try await DatabaseBootstrap.withClient(maintenance, logger: TestDatabase.logger) { client in
                        try await client.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
                        try await client.execute("SELECT pg_reload_conf()")
                        let deadline = ContinuousClock.now + .seconds(60)
                        while try await client.scalar(
                            "SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'", as: Int.self) == 0 {
                            guard ContinuousClock.now < deadline else { throw ServeProcess.NotReady(reason: "no synchronous standby", log: "") }
                            try await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    let primarySocket = try #require(try primary.layout()).socketPath
                    let proxy = try await DatabaseProxy.start(upstreamSocket: primarySocket)
                    let report: Replayer.Report
                    do {
                        report = try await replayStorm(storm, databaseURL: "postgresql://postgres@127.0.0.1:\(proxy.port)/faults",
                                                     arguments: ["--log-level", "info"]) { _ in
                            try await whenStored(1200, url: storm.url)
                            #expect(try await primary.stop(immediately: true))
                            let promoted = try await DatabaseBootstrap.withClient(
                                try standby.clientConfiguration(database: "postgres"), logger: TestDatabase.logger
                            ) { client in
                                try await client.scalar("SELECT pg_promote(true, 60)", as: Bool.self)
                            }
                            #expect(promoted, "the standby was promoted")
                            proxy.retarget(to: try #require(try standby.layout()).socketPath)
                        }
                    } catch {
                        await proxy.close()
                        throw error
                    }
                    await proxy.close()
                    #expect(report.retries > 0 && report.rejected == 0, "the failover was seen and retried: \(report.summary)")
                    let promoted = Storm(folder: folder, url: try standby.connectionURL(database: "faults"), key: storm.key)
                    let after = try await outcome(promoted, log: report.log)
                    if after != reference {
                        try keepEvidence("failover", report: report, files: [
                            ("serve.log", "\(folder)/serve.log"), ("primary.log", try #require(try primary.layout()).logFile),
                            ("standby.log", try #require(try standby.layout()).logFile)])
                    }
                    expectSame(after, as: reference, "failed over to the standby")
                } catch {
                    _ = try? await standby.stop(immediately: true)
                    throw error
                }
                _ = try await standby.stop()
            }
        }
    }

    /// A streaming standby of `primary` in `folder` (a base backup with `-R`), started.
    func startStandby(of primary: ManagedPostgres, in folder: String) async throws -> ManagedPostgres {
        let standby = ManagedPostgres(directory: folder, installation: primary.installation, options: .init(), logger: TestDatabase.logger)
        let layout = try await standby.initializeIfNeeded()
        let source = try #require(try primary.layout())
        try FileManager.default.removeItem(atPath: layout.dataDirectory)
        let user = try ServerUser.forCurrentProcess()
        try FileManager.default.createDirectory(atPath: layout.dataDirectory, withIntermediateDirectories: false)
        chmod(layout.dataDirectory, 0o700)
        try user?.takeOwnership(of: layout.dataDirectory)
        let backup = [primary.installation.tool("pg_basebackup"), "--pgdata=\(layout.dataDirectory)", "--write-recovery-conf",
                      "--wal-method=stream", "--checkpoint=fast", "--host=\(source.socketDirectory)", "--port=\(source.port)",
                      "--username=\(ManagedPostgres.superuser)"]
        let (executable, arguments) = user?.wrap(backup[0], Array(backup.dropFirst())) ?? (backup[0], Array(backup.dropFirst()))
        let result = try await ChildProcess.run(executable, arguments, workingDirectory: "/")
        guard result.status == 0 else { throw ServeProcess.NotReady(reason: "(standby) pg_basebackup failed", log: result.output) }
        _ = try await standby.start()
        return standby
    }

    /// Once, `oms migrate` re-applying current/16_live_events.sql under load deadlocked with a feed batch (its
    /// trigger on the partitioned audit trail takes ShareRowExclusiveLock on every partition): the runner now
    /// waits at most 2 s for a lock and runs a file again after a conflict (MigrationRunner.apply).
    @Test("an upgrade while serving: the new version's oms migrate runs under load, then the service restarts; nothing lost")
    func upgradeWhileServing() async throws {
        let reference = try await reference()
        try await withPreparedStorm { storm in
            let report = try await replayStorm(storm) { running in
                try await whenStored(1000, url: storm.url)
                // The installed functions are an older release's: the new oms migrate applies every
                // current file again (CREATE OR REPLACE) while the old service is busy.
                try await DatabaseBootstrap.withClient(try DatabaseURL(storm.url).clientConfiguration(), logger: TestDatabase.logger) { client in
                    try await client.execute("UPDATE oms_schema_current_files SET checksum = 'an older release'")
                    try await run(["migrate", "--database-url", storm.url])
                    #expect(try await client.scalar(
                        "SELECT count(*)::int FROM oms_schema_current_files WHERE checksum = 'an older release'", as: Int.self) == 0)
                }
                // Then the new binary takes over: a graceful stop and a start on the same port.
                try await running.restart(killing: false)
            }
            #expect(report.rejected == 0)
            expectSame(try await outcome(storm, log: report.log), as: reference, "upgraded while serving")
        }
    }

    @Test("two oms serve instances on one database, each feed to its own: the same end as one instance")
    func twoInstancesByFeed() async throws {
        let reference = try await reference()
        try await withPreparedStorm { storm in
            try await withTwoServices(storm) { one, two in
                // SCADA and KAIFA to one service, ONU and calls to the other, in the storm's order (each
                // request answered before the next goes): whatever a service keeps in its own memory
                // (remembered keys, the engine's sweeper, the stream) must not change what is stored.
                let all = try deliveries(storm.folder)
                let toOne: (Delivery) -> Bool = { [.scada, .kaifa].contains($0.feed) }
                var reports: [Replayer.Report] = []
                var start = 0
                while start < all.count {
                    let end = all[start...].firstIndex { toOne($0) != toOne(all[start]) } ?? all.count
                    reports.append(try await replay(Array(all[start..<end]), to: toOne(all[start]) ? one.base : two.base, key: storm.key))
                    start = end
                }
                #expect(reports.allSatisfy { $0.retries == 0 && $0.rejected == 0 }, "no error reached a client")
                var log = reports[0].log
                log.requests = reports.flatMap(\.log.requests)
                expectSame(try await outcome(storm, log: log), as: reference, "two instances, by feed")
            }
        }
    }

    @Test("two oms serve instances on one database, the storm split at random and sent at once: no error to a client, nothing lost, every meter's status the same")
    func twoInstancesAtOnce() async throws {
        let reference = try await reference()
        try await withPreparedStorm { storm in
            try await withTwoServices(storm) { one, two in
                let all = try deliveries(storm.folder)
                var random = SystemRandomNumberGenerator()
                let toOne = all.map { _ in Bool.random(using: &random) }
                async let first = replay(zip(all, toOne).filter { $0.1 }.map(\.0), to: one.base, key: storm.key)
                async let second = replay(zip(all, toOne).filter { !$0.1 }.map(\.0), to: two.base, key: storm.key)
                let reports = try await [first, second]
                // Conflicts between the two (the same meter, outage or device at once) are retried
                // inside the service: a client sees no error and no 503.
                #expect(reports.allSatisfy { $0.retries == 0 && $0.rejected == 0 }, "no error reached a client")
                var log = reports[0].log
                log.requests = reports.flatMap(\.log.requests).sorted { $0.firstSeq < $1.firstSeq }
                let outcome = try await outcome(storm, log: log)
                // Two senders as fast as they can reorder the feeds by minutes of the storm's time (one
                // half runs ahead of the other, the more so on a loaded machine), as no real feed does:
                // which predictions the engine made on the way, and even which failures it found (a
                // restoration applied before its trip), may differ; this compares what the order
                // cannot change. The same storm in the same order is twoInstancesByFeed's.
                #expect(outcome.orderFree == reference.orderFree, "feed rows stored once each, every meter's status")
            }
        }
    }

    /// Runs `body` with two `oms serve` processes on the storm's database; both stopped after.
    func withTwoServices(_ storm: Storm, _ body: @Sendable (ServeProcess, ServeProcess) async throws -> Void) async throws {
        let one = try await ServeProcess.start(databaseURL: storm.url, port: try closedTCPPort(), logFile: "\(storm.folder)/one.log")
        do {
            let two = try await ServeProcess.start(databaseURL: storm.url, port: try closedTCPPort(), logFile: "\(storm.folder)/two.log")
            do {
                try await body(one, two)
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

    /// Posts one delivery to `service` (within 60 s): the status and the `Retry-After`.
    func post(_ delivery: Delivery, to service: ServeProcess, key: String) async throws -> (status: Int, retryAfter: String?) {
        var request = HTTPClientRequest(url: service.base + delivery.feed.path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: delivery.contentType)
        request.body = .bytes(ByteBuffer(string: delivery.body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers.first(name: "Retry-After"))
    }
}
