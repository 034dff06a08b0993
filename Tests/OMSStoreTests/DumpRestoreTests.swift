import Foundation
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Backup and restore (issue 17, item 11): a working database, dumped with `pg_dump -Fc` and restored
/// with `pg_restore` into a new database on the same server, is the same database (schema, rows,
/// sequences, triggers enabled, migration records) and keeps working: the migration runner finds
/// nothing to do, the validation checklist passes, triggers fire, the feeds' functions open and
/// correlate outages, API keys made before the dump authenticate, identity sequences continue.
@Suite("pg_dump / pg_restore: a restored database is the same and keeps working")
struct DumpRestoreTests {
    let logger = TestDatabase.logger

    /// ISO 8601 time `offset` seconds from now. Every event is in the past: an operator's
    /// restoration time may not precede the outage's start, and defaults to now.
    static func time(_ offset: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offset)))
    }

    @Test("round trip of a database holding an outage, feed events, API keys and operator actions",
          .timeLimit(.minutes(10)))
    func roundTrip() async throws {
        let server = try await TestDatabase.server()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-dump-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dumpFile = "\(folder)/oms.dump"

        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let state = try await makeWorkingState(client)
            let original = try await Snapshot.read(client)
            #expect(original.tables["oms_outage_events"]?.rows == 2, "the state to dump: \(original.tables)")

            // pg_dump -Fc as the server's superuser over its Unix socket (the URL psql uses).
            try await runTool("pg_dump", ["--format=custom", "--file=\(dumpFile)", "--dbname=\(try server.connectionURL(database: database.name))"],
                              server: server)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: dumpFile)[.size] as? Int)
            #expect(size > 10_000, "the dump holds the database (\(size) bytes)")

            let restoredName = "\(database.name)_restored"
            try await withNewDatabase(restoredName, server: server) {
                // --exit-on-error --single-transaction: the first error stops the restore and leaves the
                // database empty, rather than a half-restored database that looks usable.
                // --no-owner: the objects belong to the user restoring (the service's user on the target),
                // not to the role that owned them on the source, which need not exist there.
                // --no-privileges: no GRANT/REVOKE replayed for roles of the source server (the schema
                // grants nothing itself; the service's user owns what it uses).
                // No --clean: the target is a new, empty database (created from template0).
                try await runTool("pg_restore", [
                    "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                    "--dbname=\(try server.connectionURL(database: restoredName))", dumpFile,
                ], server: server)

                var configuration = try server.clientConfiguration(database: restoredName)
                configuration.options.maximumConnections = 4
                try await DatabaseBootstrap.withClient(configuration, logger: logger) { restored in
                    try await checkSame(original, restored)
                    try await checkMigrationsAndValidation(original: client, restored: restored)
                    try await checkWorking(restored, state: state, server: server, database: restoredName, folder: folder)
                }
            }
            #expect(try await client.scalar("SELECT count(*)::int FROM pg_database WHERE datname = \(restoredName)", as: Int.self) == 0,
                    "the restored database is dropped")
        }
    }

    // MARK: - The state to dump

    /// What the checks after the restore need to know of the state made before the dump.
    struct WorkingState: Sendable {
        /// The outage the SCADA trip on FD002 opened, joined by KAIFA, ONU and a call.
        var outageCode: String
        var outageID: UUID
        var metersOut: Int
        /// An API key in force (read, operate) and a revoked one.
        var key: (id: UUID, key: String)
        var revokedKey: String
        /// The highest id of oms_registry_sources (an identity column).
        var stagedMaxID: Int
    }

    /// The sample network (2,700 meters), a SCADA trip on FD002 (a confirmed outage of 300 meters) joined by
    /// a KAIFA last gasp, an ONU dying gasp and a customer's call; two KAIFA gasps on FD007-DP01 (an
    /// outage of their own); a manual status change; operator actions; two API keys, one revoked; a
    /// setting changed; registry identities staged by an integrator.
    func makeWorkingState(_ client: PostgresClient) async throws -> WorkingState {
        try await SampleNetwork.load(into: client, logger: logger)

        let trip = try await FeedIngestor(.scada, client: client, logger: logger).ingest(body: Array("""
            {"eventId": "DR-SCADA-1", "eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001",
             "feederId": "FD002", "timestamp": "\(Self.time(-600))"}
            """.utf8))
        guard case .applied(let scada)? = trip.first, let outageID = scada.outageEventID,
              let outageCode = scada.outageEventCode else {
            throw Failure("no outage from the SCADA trip: \(trip)")
        }

        let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self)
        let gasp = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(
            body: Array(KAIFADecoderSample.soap(asset: asset, time: Self.time(-590), mRID: "DR-KAIFA-1").utf8))
        let onu = try await FeedIngestor(.onu, client: client, logger: logger).ingest(body: Array(
            #"{"type": "ONU_LastGaspAlert", "eventId": "DR-ONU-1", "onuId": "ONU-000303", "timestamp": "\#(Self.time(-580))"}"#.utf8))
        let call = try await FeedIngestor(.callCenter, client: client, logger: logger).ingest(body: Array(
            #"{"ticketId": "DR-CALL-1", "timestamp": "\#(Self.time(-570))", "customer": {"meterNumber": "m1000-0306"}, "troubleCode": "power_down"}"#.utf8))
        for outcome in [gasp.first.map { "\($0)" }, onu.first.map { "\($0)" }, call.first.map { "\($0)" }] {
            #expect(outcome?.hasPrefix("applied") == true, "\(outcome ?? "no outcome")")
        }
        #expect(try await client.scalar(
            "SELECT count(*)::int FROM oms_event_sources WHERE outage_event_id = \(outageID)", as: Int.self) == 4)

        // Two last gasps on FD007-DP01 (sample meters 1801, 1802): an outage of their own.
        let assets = try await client.fetch(
            "SELECT asset_mrid FROM oms_meters WHERE meter_number IN ('M10001801', 'M10001802') ORDER BY meter_number",
            logger: logger)
        for (index, asset) in try assets.decode(String.self).enumerated() {
            _ = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(
                body: Array(KAIFADecoderSample.soap(asset: asset, time: Self.time(-500 + index), mRID: "DR-KAIFA-DP-\(index)").utf8))
        }

        // A manual status change (audited by oms_apply_status_changes).
        _ = try await client.scalar(
            "SELECT update_meter_status('M10000901', 'off', 'power_off', 'manual', 'DR-MANUAL-1', now() - interval '5 minutes')",
            as: UUID.self)

        // Operator actions on the SCADA outage.
        let actions = OutageActions(client: client, logger: logger)
        _ = try await actions.act(eventID: outageCode, action: "acknowledge", actor: "dispatcher-7", arguments: "{}")
        _ = try await actions.act(eventID: outageCode, action: "assign", actor: "dispatcher-7", arguments: #"{"crew": "Crew 7"}"#)

        // API keys: one in force, one revoked.
        let keys = APIKeyStore(client: client, logger: logger)
        let key = try await keys.create(scopes: [.read, .operate], name: "before the dump")
        let revoked = try await keys.create(scopes: [.admin], name: "revoked before the dump")
        #expect(try await keys.revoke(id: revoked.id))

        // A setting changed, and identities staged by an integrator (an identity column).
        try await client.execute("SELECT oms_setting_set('correlation.window_minutes', '90')")
        try await client.execute("""
            INSERT INTO oms_registry_sources (source, source_ref, meter_number, onu_serial)
            VALUES ('onu_inventory', 'row 1', 'M10000010', 'HWTC0000000A'),
                   ('onu_inventory', 'row 2', 'M10000011', 'HWTC0000000B'),
                   ('cis', 'row 3', 'M10000012', NULL)
            """)

        return WorkingState(
            outageCode: outageCode, outageID: outageID,
            metersOut: try await client.scalar("SELECT meters_out FROM oms_outage_events WHERE id = \(outageID)", as: Int.self),
            key: key, revokedKey: revoked.key,
            stagedMaxID: try await client.scalar("SELECT max(id)::int FROM oms_registry_sources", as: Int.self))
    }

    // MARK: - The same database

    /// A table's rows: how many, and the MD5 of their text forms in order.
    struct TableDigest: Equatable, CustomStringConvertible {
        var rows: Int
        var md5: String
        var description: String { "\(rows) rows \(md5)" }
    }

    /// What a restore must reproduce exactly.
    struct Snapshot {
        /// Tables, columns, constraints, indexes, functions, triggers, views, settings, code rows, comments.
        var objects: [SchemaObject]
        /// Every table of the public schema, the migration records included.
        var tables: [String: TableDigest]
        /// Every sequence's last value (nil: never used).
        var sequences: [String: Int?]
        /// Every trigger with its firing state (O enabled, D disabled, R replica, A always).
        var triggers: [String]

        static func read(_ client: PostgresClient) async throws -> Snapshot {
            let logger = TestDatabase.logger
            var tables: [String: TableDigest] = [:]
            let names = try await client.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", logger: logger)
            for name in try names.decode(String.self) {
                let table = DatabaseBootstrap.quoteIdentifier(name)
                let rows = try await client.fetch(PostgresQuery(unsafeSQL: """
                    SELECT count(*)::int, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM \(table) t
                    """), logger: logger)
                for (count, md5) in try rows.decode((Int, String).self) { tables[name] = TableDigest(rows: count, md5: md5) }
            }
            var sequences: [String: Int?] = [:]
            let sequenceRows = try await client.fetch(
                "SELECT sequencename::text, last_value FROM pg_sequences WHERE schemaname = 'public'", logger: logger)
            for (name, value) in try sequenceRows.decode((String, Int?).self) { sequences[name] = value }
            let triggerRows = try await client.fetch("""
                SELECT c.relname || '.' || t.tgname || ' ' || t.tgenabled::text
                  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
                 ORDER BY 1
                """, logger: logger)
            var triggers: [String] = []
            for line in try triggerRows.decode(String.self) { triggers.append(line) }
            return Snapshot(objects: try await client.schemaObjects(comments: true), tables: tables,
                            sequences: sequences, triggers: triggers)
        }
    }

    func checkSame(_ original: Snapshot, _ restored: PostgresClient) async throws {
        let copy = try await Snapshot.read(restored)

        // Every object prints the same: a trigger's WHEN clause, kept as a parse tree and printed
        // back, must survive pg_dump's text too (03_registry.sql writes its conditions so that it does).
        let missing = Set(original.objects).subtracting(copy.objects)
        let added = Set(copy.objects).subtracting(original.objects)
        let sortedMissing = missing.sorted(), sortedAdded = added.sorted()
        #expect(sortedMissing.isEmpty, "not restored (\(missing.count)): \(sortedMissing.prefix(10).map(\.description))")
        #expect(sortedAdded.isEmpty, "only in the restored database (\(added.count)): \(sortedAdded.prefix(10).map(\.description))")
        for kind in ["rel", "idx", "fn", "trg", "view", "con"] {
            let count = original.objects.filter { $0.kind == kind }.count
            #expect(count > 0 && count == copy.objects.filter { $0.kind == kind }.count, "\(kind): \(count) in the original")
        }

        #expect(original.tables.keys.sorted() == copy.tables.keys.sorted())
        for (name, digest) in original.tables.sorted(by: { $0.key < $1.key }) {
            #expect(copy.tables[name] == digest, "table \(name): \(digest) dumped, \(copy.tables[name].map(\.description) ?? "none") restored")
        }
        for key in ["oms_meters", "oms_outage_events", "oms_outage_meters", "oms_event_sources", "oms_event_timeline",
                    "oms_meter_status_events", "scada_events", "kaifa_events", "onu_events", "oms_api_keys",
                    "oms_schema_migrations", "oms_schema_current_files"] {
            #expect((original.tables[key]?.rows ?? 0) > 0, "\(key) has rows to restore")
        }
        #expect(copy.sequences == original.sequences)
        #expect(!original.sequences.isEmpty)
        #expect(copy.triggers == original.triggers)
        #expect(copy.triggers.allSatisfy { $0.hasSuffix(" O") }, "every trigger enabled: \(copy.triggers.filter { !$0.hasSuffix(" O") })")
        #expect(try await restored.scalar("SELECT count(*)::int FROM pg_index WHERE NOT indisvalid OR NOT indisready", as: Int.self) == 0)
        #expect(try await restored.scalar(
            "SELECT count(*)::int FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND NOT convalidated", as: Int.self) == 0)
    }

    /// `oms migrate` finds nothing to do, the schema version is this build's, and `oms validate`'s checks
    /// give what they gave on the original (all passed).
    func checkMigrationsAndValidation(original: PostgresClient, restored: PostgresClient) async throws {
        let expected = try #require(try Migration.bundled().last?.version)
        let summary = try await MigrationRunner.bundled(logger: logger).migrate(restored)
        #expect(summary.applied == [])
        #expect(summary.currentApplied == [])
        #expect(summary.baselined == [])
        #expect(summary.schemaVersion == expected)
        #expect(try await SchemaInspector(client: restored, logger: logger).schemaVersion() == expected)

        let before = try await SchemaInspector(client: original, logger: logger).validationReport()
        let after = try await SchemaInspector(client: restored, logger: logger).validationReport()
        #expect(after == before)
        #expect(!after.isEmpty && after.allSatisfy(\.passed), "failed: \(after.filter { !$0.passed })")
    }

    // MARK: - Still working

    func checkWorking(_ client: PostgresClient, state: WorkingState, server: ManagedPostgres, database: String,
                      folder: String) async throws {
        // API keys made before the dump: the one in force authenticates, the revoked one does not.
        let keys = APIKeyStore(client: client, logger: logger)
        let authenticated = try await keys.authenticate(state.key.key)
        #expect(authenticated?.id == state.key.id)
        #expect(authenticated?.name == "before the dump")
        #expect(authenticated?.scopes.sorted(by: { $0.rawValue < $1.rawValue }) == [.operate, .read])
        #expect(try await keys.authenticate(state.revokedKey) == nil)
        #expect(try await keys.authenticate(APIKeyStore.generateKey()) == nil)
        let fresh = try await keys.create(scopes: [.ingestSCADA], name: "after the restore")
        #expect(try await keys.authenticate(fresh.key)?.id == fresh.id)

        // A SCADA trip on another feeder (FD005) opens a new confirmed outage covering its 300 meters.
        let outagesBefore = try await client.scalar("SELECT count(*)::int FROM oms_outage_events", as: Int.self)
        let trip = try await FeedIngestor(.scada, client: client, logger: logger).ingest(body: Array("""
            {"eventId": "DR-SCADA-2", "eventType": "breaker_trip", "alarmType": "lockout", "substationId": "SS002",
             "feederId": "FD005", "timestamp": "\(Self.time(-120))"}
            """.utf8))
        guard case .applied(let scada)? = trip.first, let newOutage = scada.outageEventID else {
            Issue.record("no outage from the SCADA trip after the restore: \(trip)")
            return
        }
        #expect(scada.metersChecked)
        #expect(scada.scope == "feeder")
        #expect(scada.totalMeters == 300)
        #expect(newOutage != state.outageID)
        #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_events", as: Int.self) == outagesBefore + 1)
        #expect(try await client.scalar("""
            SELECT o.status || ' ' || o.basis || ' ' || f.feeder_id || ' ' || o.affected_meters_count || ' ' || o.meters_out
              FROM oms_outage_events o JOIN network_feeders f ON f.id = o.feeder_id WHERE o.id = \(newOutage)
            """, as: String.self) == "confirmed telemetry FD005 300 300")
        #expect(try await client.scalar(
            "SELECT count(*)::int FROM oms_outage_covered_meters(\(newOutage))", as: Int.self) == 300)
        #expect(try await client.scalar("""
            SELECT s.state FROM oms_device_states s JOIN network_feeders f ON f.id = s.device_id
             WHERE s.device_kind = 'feeder' AND f.feeder_id = 'FD005'
            """, as: String.self) == "open")

        // The outage made before the dump goes on: a power-up restores its meter.
        let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self)
        let up = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(body: Array(
            KAIFADecoderSample.soap(asset: asset, time: Self.time(-60), code: "3.26.136.216", mRID: "DR-KAIFA-UP").utf8))
        guard case .applied(let upSummary)? = up.first else { Issue.record("power-up: \(up)"); return }
        #expect(upSummary.outageEventIDs == [state.outageID])
        #expect(try await client.scalar(
            "SELECT meters_out FROM oms_outage_events WHERE id = \(state.outageID)", as: Int.self) == state.metersOut - 1)

        // An operator action through psql, LISTENing: the outage trigger announces the change on oms_events.
        let etr = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3 * 3600))
        let script = "\(folder)/listen.sql"
        try """
            LISTEN oms_events;
            SELECT oms_outage_act('\(state.outageCode)', 'etr', 'night-shift', '{"at": "\(etr)"}');
            SELECT 1;
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let psql = try await runTool("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                              "-d", try server.connectionURL(database: database), "-f", script], server: server)
        #expect(psql.contains("Asynchronous notification \"oms_events\"") && psql.contains(state.outageCode),
                "psql printed: \(psql)")

        // The operator restores and closes it; the timeline keeps the actions from before the dump.
        let actions = OutageActions(client: client, logger: logger)
        _ = try await actions.act(eventID: state.outageCode, action: "restore", actor: "night-shift", arguments: "{}")
        _ = try await actions.act(eventID: state.outageCode, action: "close", actor: "night-shift",
                                  arguments: #"{"cause": "vegetation", "remark": "after the restore"}"#)
        #expect(try await client.scalar(
            "SELECT status || ' ' || crew || ' ' || acknowledged_by || ' ' || cause_code FROM oms_outage_events WHERE id = \(state.outageID)",
            as: String.self) == "closed Crew 7 dispatcher-7 vegetation")
        #expect(try await client.scalar("""
            SELECT string_agg(event_type, ',' ORDER BY event_type) FROM oms_event_timeline
             WHERE outage_event_id = \(state.outageID) AND event_type LIKE 'operator\\_%'
            """, as: String.self)
            == "operator_acknowledge,operator_assign,operator_close,operator_etr,operator_restore")

        // A meter status change writes its audit row; the updated_at trigger touches the meter.
        let touched = try await client.scalar(
            "SELECT updated_at FROM oms_meters WHERE meter_number = 'M10002401'", as: Date.self)
        let audit = try await client.scalar(
            "SELECT update_meter_status('M10002401', 'off', 'power_off', 'manual', 'DR-MANUAL-2')", as: UUID.self)
        #expect(try await client.scalar("""
            SELECT m.meter_number || ' ' || e.previous_status || '>' || e.new_status || ' ' || e.applied::text
              FROM oms_meter_status_events e JOIN oms_meters m ON m.id = e.meter_id WHERE e.id = \(audit)
            """, as: String.self) == "M10002401 on>off true")
        #expect(try await client.scalar(
            "SELECT power_status FROM oms_meters WHERE meter_number = 'M10002401'", as: String.self) == "off")
        #expect(try await client.scalar(
            "SELECT updated_at FROM oms_meters WHERE meter_number = 'M10002401'", as: Date.self) > touched)

        // A new meter under a distribution point: its feeder and substation are derived, the supply
        // mappings follow (statement triggers with transition tables), the registry version moves.
        let version = try await client.scalar("SELECT version::int FROM oms_registry_version", as: Int.self)
        try await client.execute("""
            INSERT INTO oms_meters (meter_number, dp_id)
            SELECT 'M-RESTORED-1', id FROM network_distribution_points WHERE dp_id = 'FD009-DP10'
            """)
        #expect(try await client.scalar("""
            SELECT f.feeder_id || ' ' || s.substation_id
                   || ' ' || (SELECT count(*) FROM network_feeder_meters l WHERE l.meter_id = m.id)
                   || ' ' || (SELECT count(*) FROM network_substation_meters l WHERE l.meter_id = m.id)
              FROM oms_meters m JOIN network_feeders f ON f.id = m.feeder_id JOIN network_substations s ON s.id = m.substation_id
             WHERE m.meter_number = 'M-RESTORED-1'
            """, as: String.self) == "FD009 SS003 1 1")
        #expect(try await client.scalar("SELECT version::int FROM oms_registry_version", as: Int.self) > version)
        // The topology-source trigger (the one whose WHEN clause prints differently after the restore)
        // refuses a hand-made inferred link, and lets a move through as explicit.
        await #expect {
            try await client.execute("UPDATE oms_meters SET topology_source = 'inferred' WHERE meter_number = 'M-RESTORED-1'")
        } throws: { $0.readableDatabaseMessage.contains("are kept by the database") }
        try await client.execute("""
            UPDATE oms_meters SET dp_id = (SELECT id FROM network_distribution_points WHERE dp_id = 'FD009-DP09')
             WHERE meter_number = 'M-RESTORED-1'
            """)
        #expect(try await client.scalar("""
            SELECT d.dp_id || ' ' || m.topology_source FROM oms_meters m JOIN network_distribution_points d ON d.id = m.dp_id
             WHERE m.meter_number = 'M-RESTORED-1'
            """, as: String.self) == "FD009-DP09 explicit")

        // The settings check still refuses a value out of range, and the restored change holds.
        await #expect {
            try await client.execute("UPDATE oms_settings SET value = '7' WHERE key = 'correlation.confirm_confidence'")
        } throws: { $0.readableDatabaseMessage.contains("correlation.confirm_confidence must be") }
        #expect(try await client.scalar(
            "SELECT value::text FROM oms_settings WHERE key = 'correlation.window_minutes'", as: String.self) == "90")

        // Identity sequences continue where the original stopped: no id collides.
        let next = try await client.scalar(
            "INSERT INTO oms_registry_sources (source, meter_number) VALUES ('cis', 'M10000013') RETURNING id::int", as: Int.self)
        #expect(next == state.stagedMaxID + 1)
        #expect(try await client.scalar("SELECT count(DISTINCT id)::int - count(*)::int FROM oms_registry_sources", as: Int.self) == 0)
    }

    // MARK: - Tools and databases

    /// Runs one of the server's programs (pg_dump, pg_restore, psql) to its end without holding a thread
    /// (`ExternalCommand`: a cancelled test kills it); its output. A failure is the test's failure, with
    /// the program's output.
    @discardableResult
    func runTool(_ name: String, _ arguments: [String], server: ManagedPostgres) async throws -> String {
        let tool = server.installation.tool(name)
        try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is not installed")
        let result = try await ExternalCommand.run(tool, arguments, workingDirectory: "/")
        try #require(result.status == 0, "\(name) exited with \(result.status): \(result.output)")
        return result.output
    }

    /// Runs `body` with a new, empty database `name` (from template0, as pg_restore wants it), dropped
    /// afterwards, also when `body` throws or the test is cancelled.
    func withNewDatabase(_ name: String, server: ManagedPostgres, _ body: @Sendable () async throws -> Void) async throws {
        let maintenance = try server.clientConfiguration(database: "postgres")
        let logger = logger
        // Dropped in a task of its own: a cancelled test (time limit) must still drop it.
        let drop = { @Sendable in
            await Task {
                try? await DatabaseBootstrap.withClient(maintenance, logger: logger) { client in
                    try await client.execute(PostgresQuery(
                        unsafeSQL: "DROP DATABASE IF EXISTS \(DatabaseBootstrap.quoteIdentifier(name)) WITH (FORCE)"))
                }
            }.value
        }
        do {
            try await DatabaseBootstrap.createDatabaseIfNeeded(name, template: "template0", maintenance: maintenance, logger: logger)
            try await body()
        } catch {
            await drop()
            throw error
        }
        await drop()
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
