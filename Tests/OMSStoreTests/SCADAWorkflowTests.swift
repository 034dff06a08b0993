import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The seed's SCADA workflow, through the SQL functions psql users call.
@Suite("SCADA breaker events check exactly the affected meters")
struct SCADAWorkflowTests {
    /// Calls insert_scada_event_with_meter_check and decodes its summary.
    func check(_ message: String, on client: PostgresClient) async throws -> SCADACheckSummary {
        let json = try await client.scalar(
            "SELECT insert_scada_event_with_meter_check(\(message)::jsonb)::text", as: String.self)
        return try JSONDecoder().decode(SCADACheckSummary.self, from: Data(json.utf8))
    }

    func trip(_ substation: String, _ feeder: String?, at time: String = "2025-09-30T10:00:00Z",
              alarm: String = "fault", eventID: String? = nil) -> String {
        var fields = [
            "\"eventType\": \"breaker_trip\"", "\"substationId\": \"\(substation)\"", "\"timestamp\": \"\(time)\"",
            "\"alarmType\": \"\(alarm)\"", "\"severity\": \"critical\"",
        ]
        if let feeder { fields.append("\"feederId\": \"\(feeder)\"") }
        if let eventID { fields.append("\"eventId\": \"\(eventID)\"") }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    func count(_ table: String, on client: PostgresClient) async throws -> Int {
        try await client.scalar(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), as: Int.self)
    }

    /// Moves the sample network's clock back so that its states are current at 2025-09-30T10:00Z, the seed's time.
    func rewindSampleTo2025(_ client: PostgresClient) async throws {
        try await client.execute(
            """
            UPDATE oms_meters
               SET last_communication = last_communication - (now() - timestamptz '2025-09-30 10:00Z'),
                   last_status_change = last_status_change - (now() - timestamptz '2025-09-30 10:00Z')
            """)
    }

    // MARK: - The seed's "Testing" section

    @Test("the seed README's Testing section, verbatim, gives the expected outcome")
    func seedTestingSection() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await rewindSampleTo2025(database.client)
            let insert = try await database.psql("""
                -- 1. Insert test SCADA event
                SELECT insert_scada_event_with_meter_check('{
                  "eventType": "breaker_trip",
                  "substationId": "SS001",
                  "feederId": "FD001",
                  "timestamp": "2025-09-30T10:00:00Z",
                  "voltage": 0.0,
                  "alarmType": "fault",
                  "severity": "critical",
                  "reason": "Test event"
                }'::jsonb);
                """)
            let json = try #require(insert.rows.first?.first ?? nil)
            let summary = try JSONDecoder().decode(SCADACheckSummary.self, from: Data(json.utf8))
            // FD001 holds sample meters 1...300.
            let fd001 = 1...300
            let offline = fd001.filter { $0 % 37 == 0 || $0 % 43 == 0 }.count
            let unknown = fd001.filter { $0 % 41 == 0 && $0 % 37 != 0 && $0 % 43 != 0 }.count
            #expect(summary.metersChecked)
            #expect(summary.totalMeters == 300)
            #expect(summary.offlineMeters == offline)
            #expect(summary.unknownMeters == unknown)
            #expect(summary.onlineMeters == 300 - offline - unknown)
            #expect(summary.outageEventCode == "OMS_SCADA_1759226400_\(summary.outageEventCode?.suffix(8) ?? "")")

            // Telemetry wins (issue 15): a breaker trip is at once a confirmed outage of every meter
            // under the feeder, not only those the check found offline (docs/sql-contract.md).
            let outage = try await database.psql(SeedSQL.testingOutageBySubstation)
            #expect(outage.rows.count == 1)
            #expect(outage.column("status") == ["confirmed"])
            #expect(outage.column("confidence_score") == ["0.900"])
            #expect(outage.column("affected_meters_count") == ["300"])
            #expect(outage.column("affected_customers_count") == ["300"])
            #expect(outage.column("root_cause") == ["fault on feeder FD001 at substation SS001: Test event"])

            #expect(try await database.psql(SeedSQL.testingAffectedMeterCount).rows == [["300"]])

            // Step 4: only FD001's offline meters changed; the meters that only lost
            // communication are now off too.
            let status = try await database.psql(SeedSQL.testingStatusBySubstation)
            var counts: [String: String] = [:]
            for row in status.rows { counts[row[0] ?? ""] = row[1] }
            let ss001 = 1...900
            let offBefore = ss001.filter { $0 % 37 == 0 }.count
            let commOnlyOffline = fd001.filter { $0 % 43 == 0 && $0 % 37 != 0 && $0 % 41 != 0 }.count
            let unknownPower = ss001.filter { $0 % 41 == 0 && $0 % 37 != 0 }.count
            #expect(counts["off"] == "\(offBefore + commOnlyOffline)")
            #expect(counts["unknown"] == "\(unknownPower)")

            // And the seed's "SCADA Events with Meter Impact" query finds it (within 24 hours of now: none).
            let audit = try await database.client.scalar(
                """
                SELECT count(*)::int FROM oms_meter_status_events
                 WHERE source_type = 'scada' AND confidence_score = 0.9 AND new_status = 'off' AND applied
                """, as: Int.self)
            #expect(audit == commOnlyOffline)
        }
    }

    // MARK: - Scope

    @Test("a feeder event checks that feeder only; other feeders are untouched")
    func feederScope() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let before = try await client.scalar(
                "SELECT string_agg(meter_number || power_status, ',' ORDER BY meter_number) FROM oms_meters_with_topology WHERE feeder_code <> 'FD002'",
                as: String.self)
            let summary = try await check(trip("SS001", "FD002", at: ISO8601DateFormatter().string(from: Date())), on: client)
            #expect(summary.scope == "feeder")
            #expect(summary.totalMeters == 300)
            let checked = try await client.scalar(
                """
                SELECT count(*)::int FROM scada_event_affected_meters a
                  JOIN oms_meters_with_topology m ON m.id = a.meter_id WHERE m.feeder_code = 'FD002'
                """, as: Int.self)
            #expect(checked == 300)
            let after = try await client.scalar(
                "SELECT string_agg(meter_number || power_status, ',' ORDER BY meter_number) FROM oms_meters_with_topology WHERE feeder_code <> 'FD002'",
                as: String.self)
            #expect(after == before)
            let audited = try await client.scalar(
                """
                SELECT count(*)::int FROM oms_meter_status_events e JOIN oms_meters_with_topology m ON m.id = e.meter_id
                 WHERE e.source_type = 'scada' AND m.feeder_code <> 'FD002'
                """, as: Int.self)
            #expect(audited == 0)
        }
    }

    @Test("no feeder (absent, null or empty) checks the whole substation", arguments: ["absent", "null", "empty"])
    func substationScope(feeder: String) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let feederField = switch feeder {
            case "null": ", \"feederId\": null"
            case "empty": ", \"feederId\": \"\""
            default: ""
            }
            let message = "{\"eventType\": \"lockout\", \"substationId\": \"SS002\", \"timestamp\": \"2025-09-30T10:00:00Z\"\(feederField)}"
            let summary = try await check(message, on: database.client)
            #expect(summary.scope == "substation")
            #expect(summary.feederID == nil)
            #expect(summary.totalMeters == 900)
            let outageFeeder = try await database.client.scalar(
                "SELECT count(*)::int FROM oms_outage_events WHERE feeder_id IS NULL AND root_cause = 'lockout at substation SS002'",
                as: Int.self)
            #expect(outageFeeder == 1)
        }
    }

    @Test("a feeder of another substation is an error, and nothing is written")
    func mismatchedPair() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            do {
                _ = try await check(trip("SS001", "FD004"), on: database.client)
                Issue.record("a feeder of another substation must be refused")
            } catch {
                #expect(error.readableDatabaseMessage.contains(
                    "feeder FD004 belongs to substation SS002, not to substation SS001"))
                #expect((error as? PSQLError)?.serverInfo?[.columnName] == "feederId")
            }
            let written = try await count("scada_events", on: database.client)
                + count("scada_event_affected_meters", on: database.client)
                + count("oms_outage_events", on: database.client)
            #expect(written == 0)
        }
    }

    @Test("an unknown substation or feeder is stored, reported, and opens nothing")
    func unknownIDs() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let substation = try await check(trip("SS999", "FD001"), on: database.client)
            #expect(!substation.metersChecked)
            #expect(substation.reason == "unknown substation \"SS999\"")
            let feeder = try await check(trip("SS001", "FD999"), on: database.client)
            #expect(!feeder.metersChecked)
            #expect(feeder.reason == "unknown feeder \"FD999\"")
            #expect(try await count("scada_events", on: database.client) == 2)
            #expect(try await count("oms_outage_events", on: database.client) == 0)
            #expect(try await count("scada_event_affected_meters", on: database.client) == 0)
        }
    }

    // MARK: - Classification

    @Test("classification boundaries at the event's time; unknown meters are not forced off")
    func classification() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await client.execute(
                """
                WITH s AS (INSERT INTO network_substations (substation_id, location_lat, location_lng)
                           VALUES ('S1', 10, 10) RETURNING id)
                INSERT INTO network_feeders (feeder_id, substation_id) SELECT 'F1', id FROM s
                """)
            // The event is at 12:00. Meters: name, power, communication, last communication.
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, feeder_id, power_status, communication_status, last_communication,
                                        last_status_change)
                SELECT v.name, f.id, v.power, v.comm, v.heard::timestamptz, timestamptz '2025-09-30 08:00Z'
                  FROM network_feeders f,
                       (VALUES ('A-exactly-15min', 'on', 'online', '2025-09-30 11:45:00Z'),
                               ('B-15min-1s', 'on', 'online', '2025-09-30 11:44:59Z'),
                               ('C-never-heard', 'on', 'online', NULL),
                               ('D-comm-offline', 'on', 'offline', '2025-09-30 11:59:00Z'),
                               ('E-already-off', 'off', 'online', '2025-09-30 11:59:00Z'),
                               ('F-unknown', 'unknown', 'unknown', NULL),
                               ('G-heard-after', 'on', 'online', '2025-09-30 12:01:00Z')) AS v(name, power, comm, heard)
                 WHERE f.feeder_id = 'F1'
                """)
            let summary = try await check(trip("S1", "F1", at: "2025-09-30T12:00:00Z"), on: client)
            #expect(summary.totalMeters == 7)
            #expect(summary.offlineMeters == 2)
            #expect(summary.onlineMeters == 2)
            #expect(summary.unknownMeters == 3)

            let results = try await client.scalar(
                """
                SELECT string_agg(m.meter_number || '=' || a.check_result || ':' || a.meter_status_before || '>'
                                  || a.meter_status_after, ' ' ORDER BY m.meter_number)
                  FROM scada_event_affected_meters a JOIN oms_meters m ON m.id = a.meter_id
                """, as: String.self)
            #expect(results == [
                "A-exactly-15min=online:on>on", "B-15min-1s=unknown:on>on", "C-never-heard=unknown:on>on",
                "D-comm-offline=offline:on>off", "E-already-off=offline:off>off", "F-unknown=unknown:unknown>unknown",
                "G-heard-after=online:on>on",
            ].joined(separator: " "))
            // One audit row: the meter that changed.
            let audit = try await client.scalar(
                """
                SELECT string_agg(m.meter_number || ' ' || e.previous_status || '>' || e.new_status || ' ' || e.source_type
                                  || ' ' || e.confidence_score, ',')
                  FROM oms_meter_status_events e JOIN oms_meters m ON m.id = e.meter_id
                """, as: String.self)
            #expect(audit == "D-comm-offline on>off scada 0.900")
            // The outage counts every meter under the tripped feeder (telemetry wins), the two the
            // check found offline among them as reported.
            #expect(try await client.scalar(
                "SELECT affected_meters_count FROM oms_outage_events", as: Int.self) == 7)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_outage_meters WHERE reported", as: Int.self) == 2)
        }
    }

    // MARK: - Critical alarms

    @Test("critical alarms compare case-insensitively, by alarm or event type", arguments: [
        ("fault", "breaker_trip", true), ("De-energized", "MV_Alarm", true), ("DE ENERGIZED", "status", true),
        ("Info", "MV_AlarmLossOfVoltage", true), ("LOSS-OF-VOLTAGE", "x", true), ("Lockout", "x", true),
        ("info", "status_change", false), ("reclose", "breaker_close", false),
    ])
    func criticalAlarms(alarm: String, eventType: String, critical: Bool) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let summary = try await check(
                "{\"eventType\": \"\(eventType)\", \"alarmType\": \"\(alarm)\", \"substationId\": \"SS003\", \"feederId\": \"FD009\", \"timestamp\": \"2025-09-30T10:00:00Z\"}",
                on: database.client)
            #expect(summary.metersChecked == critical)
            if !critical {
                #expect(summary.reason?.contains("not in scada.critical_alarms") == true)
                #expect(try await count("scada_events", on: database.client) == 1)
                #expect(try await count("scada_event_affected_meters", on: database.client) == 0)
            }
        }
    }

    @Test("the critical set is configuration")
    func criticalSetConfigured() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await database.client.execute(
                "UPDATE oms_settings SET value = '[\"Custom-Alarm\"]' WHERE key = 'scada.critical_alarms'")
            #expect(!(try await check(trip("SS001", "FD001", alarm: "fault"), on: database.client).metersChecked))
            #expect(try await check(trip("SS001", "FD002", alarm: "custom alarm"), on: database.client).metersChecked)
        }
    }

    // MARK: - Idempotency and joining

    @Test("the same message again changes nothing and returns the first result", arguments: [true, false])
    func duplicateDelivery(withEventID: Bool) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let message = trip("SS001", "FD002", eventID: withEventID ? "SCADA-42" : nil)
            let first = try await check(message, on: client)
            let tables = ["scada_events", "scada_event_affected_meters", "oms_outage_events", "oms_event_sources",
                          "oms_event_timeline", "oms_meter_status_events"]
            var before: [Int] = []
            for table in tables { before.append(try await count(table, on: client)) }
            let second = try await check(message, on: client)
            var after: [Int] = []
            for table in tables { after.append(try await count(table, on: client)) }
            #expect(after == before)
            #expect(second.duplicate == true)
            var withoutFlag = second
            withoutFlag.duplicate = nil
            #expect(withoutFlag == first)
            #expect(try await client.scalar(
                "SELECT insert_scada_event_from_json(\(message)::jsonb)", as: UUID.self) == first.scadaEventID)
        }
    }

    @Test("a further event on the same feeder or substation joins the active outage")
    func joinsActiveOutage() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let first = try await check(trip("SS001", "FD002", at: "2025-09-30T10:00:00Z", eventID: "E1"), on: client)
            let second = try await check(trip("SS001", "FD002", at: "2025-09-30T10:00:45Z", alarm: "lockout", eventID: "E2"), on: client)
            #expect(first.outageEventID != nil)
            #expect(second.outageEventID == first.outageEventID)
            // A substation-wide outage is joined by events on its feeders.
            let substation = try await check(trip("SS002", nil, eventID: "E3"), on: client)
            let feeder = try await check(trip("SS002", "FD005", at: "2025-09-30T10:02:00Z", eventID: "E4"), on: client)
            #expect(feeder.outageEventID == substation.outageEventID)
            #expect(try await count("oms_outage_events", on: client) == 2)

            let outage = try #require(first.outageEventID)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_event_sources WHERE outage_event_id = \(outage)", as: Int.self) == 2)
            #expect(try await client.scalar(
                "SELECT string_agg(event_type, ',' ORDER BY \"timestamp\", event_type) FROM oms_event_timeline WHERE outage_event_id = \(outage)",
                as: String.self) == "outage_opened,evidence_linked", "timeline")
            // Two independent SCADA events: 1 - (1 - 0.9)^2 = 0.99, above correlation.confirm_confidence.
            #expect(try await client.scalar(
                "SELECT status || ' ' || confidence_score FROM oms_outage_events WHERE id = \(outage)",
                as: String.self) == "confirmed 0.990")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM scada_events WHERE outage_event_id = \(outage)", as: Int.self) == 2)

            // Once restored, a new trip opens a new outage.
            try await client.execute("UPDATE oms_outage_events SET status = 'restored' WHERE id = \(outage)")
            let third = try await check(trip("SS001", "FD002", at: "2025-09-30T11:00:00Z", eventID: "E5"), on: client)
            #expect(third.outageEventID != nil && third.outageEventID != first.outageEventID)
        }
    }

    @Test("a feeder trip reaches the meters through indexes: no scan of the registry")
    func noRegistryScan() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // 20,000 meters: 20 substations of 10 feeders of 100.
            try await client.execute(
                """
                INSERT INTO network_substations (substation_id) SELECT 'S' || s FROM generate_series(1, 20) s
                """)
            try await client.execute(
                """
                INSERT INTO network_feeders (feeder_id, substation_id)
                SELECT 'S' || s || '-F' || f, (SELECT id FROM network_substations WHERE substation_id = 'S' || s)
                  FROM generate_series(1, 20) s, generate_series(1, 10) f
                """)
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, feeder_id, power_status, communication_status)
                SELECT 'M' || s || '-' || f || '-' || n,
                       (SELECT id FROM network_feeders WHERE feeder_id = 'S' || s || '-F' || f),
                       CASE WHEN n % 10 = 0 THEN 'off' ELSE 'on' END, 'online'
                  FROM generate_series(1, 20) s, generate_series(1, 10) f, generate_series(1, 100) n
                """)
            try await client.execute("ANALYZE")
            let (scanned, control) = try await client.withTransaction(logger: TestDatabase.logger) { connection in
                func rowsReadBySequentialScans() async throws -> Int {
                    let stats = try await connection.query(
                        """
                        SELECT coalesce(sum(seq_tup_read), 0)::int FROM pg_stat_xact_user_tables
                         WHERE relname IN ('oms_meters', 'network_feeder_meters', 'network_substation_meters')
                        """, logger: TestDatabase.logger)
                    for try await value in stats.decode(Int.self) { return value }
                    return -1
                }
                let rows = try await connection.query(
                    "SELECT insert_scada_event_with_meter_check(\(trip("S7", "S7-F3"))::jsonb)", logger: TestDatabase.logger)
                for try await _ in rows {}
                let scanned = try await rowsReadBySequentialScans()
                // Control: a query that must scan shows up in the same counters.
                for try await _ in try await connection.query(
                    "SELECT count(*) FROM oms_meters WHERE meter_type IS NULL", logger: TestDatabase.logger) {}
                return (scanned, try await rowsReadBySequentialScans())
            }
            #expect(scanned == 0)
            #expect(control >= 20_000)
        }
    }

    @Test("a feeder trip reads its own device's outages, not the others: 3,000 elsewhere, open or past, are not read")
    func tripIgnoresOtherOutages() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // S1: 8 feeders of 10 meters. S2: one feeder of 200 distribution points, each with 10
            // outages open in the trip's window (a storm elsewhere); S1-F7, beside the feeder that
            // trips, has 1,000 outages restored the day before (the network's history).
            try await client.execute(statements: [
                "INSERT INTO network_substations (substation_id) VALUES ('S1'), ('S2')",
                """
                INSERT INTO network_feeders (feeder_id, substation_id)
                SELECT 'S1-F' || f, (SELECT id FROM network_substations WHERE substation_id = 'S1') FROM generate_series(1, 8) f
                UNION ALL SELECT 'S2-F1', id FROM network_substations WHERE substation_id = 'S2'
                """,
                """
                INSERT INTO oms_meters (meter_number, feeder_id, power_status, communication_status)
                SELECT 'M' || f || '-' || n, (SELECT id FROM network_feeders WHERE feeder_id = 'S1-F' || f),
                       CASE WHEN n <= 4 THEN 'off' ELSE 'on' END, 'online'
                  FROM generate_series(1, 8) f, generate_series(1, 10) n
                """,
                """
                INSERT INTO network_distribution_points (dp_id, feeder_id)
                SELECT 'D' || d, id FROM network_feeders, generate_series(1, 200) d WHERE feeder_id = 'S2-F1'
                """,
                """
                INSERT INTO oms_outage_events (event_id, status, substation_id, feeder_id, dp_id, first_detected_at)
                SELECT 'STORM-' || d.dp_id || '-' || k, 'detected', f.substation_id, f.id, d.id,
                       '2025-09-30T09:50:00Z'
                  FROM network_distribution_points d JOIN network_feeders f ON f.id = d.feeder_id, generate_series(1, 10) k
                """,
                """
                INSERT INTO oms_outage_events (event_id, status, substation_id, feeder_id, first_detected_at,
                                               actual_restoration_time)
                SELECT 'PAST-' || k, 'restored', substation_id, id, '2025-09-29T09:00:00Z', '2025-09-29T09:30:00Z'
                  FROM network_feeders, generate_series(1, 1000) k WHERE feeder_id = 'S1-F7'
                """,
                "ANALYZE",
            ])
            // One session: six trips first (each undone), so that its functions run their
            // cached generic plans, as a service's long-lived connections do; then the trip
            // counted, by the server, in its own transaction.
            let warmUps = (1...6).map { feeder in
                """
                BEGIN PERFORM insert_scada_event_with_meter_check('\(trip("S1", "S1-F\(feeder)", eventID: "W\(feeder)"))');
                RAISE EXCEPTION 'undo' USING ERRCODE = 'OMS01'; EXCEPTION WHEN SQLSTATE 'OMS01' THEN NULL; END;
                """
            }.joined(separator: "\n")
            let counted = try await database.psql(
                """
                DO $$ BEGIN
                \(warmUps)
                END $$;
                CREATE TEMP TABLE before_trip AS
                SELECT coalesce(sum(seq_tup_read + idx_tup_fetch), 0) AS n FROM pg_stat_xact_user_tables
                 WHERE relname = 'oms_outage_events';
                DO $$ BEGIN PERFORM insert_scada_event_with_meter_check('\(trip("S1", "S1-F8", eventID: "COUNTED"))'); END $$;
                SELECT (SELECT sum(seq_tup_read + idx_tup_fetch) FROM pg_stat_xact_user_tables
                         WHERE relname = 'oms_outage_events') - b.n AS rows_read
                  FROM before_trip b
                """)
            let rowsRead = counted.int("rows_read") ?? -1
            #expect((0...50).contains(rowsRead), "outage rows one feeder trip read: \(rowsRead)")

            // The trip did its work: its own outage, 4 meters off; the storm elsewhere untouched.
            #expect(try await client.scalar(
                """
                SELECT o.status || ' ' || o.meters_out FROM oms_outage_events o
                  JOIN scada_events e ON e.outage_event_id = o.id WHERE e.source_event_id = 'COUNTED'
                """, as: String.self) == "confirmed 10")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_outage_events WHERE event_id LIKE 'STORM-%' AND status = 'detected'",
                as: Int.self) == 2_000)
        }
    }

    @Test("a check's arrays are kept compressed by lz4, not pglz (0120)")
    func checkArraysCompressedByLZ4() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await client.execute("INSERT INTO network_substations (substation_id) VALUES ('S1')")
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, substation_id, power_status, communication_status)
                SELECT 'M' || n, (SELECT id FROM network_substations), CASE WHEN n % 10 = 0 THEN 'off' ELSE 'on' END, 'online'
                  FROM generate_series(1, 500) n
                """)
            let summary = try await check(trip("S1", nil), on: client)
            #expect(summary.totalMeters == 500)
            // The statuses and results (compressible); the ids are random and may be kept as they are.
            let methods = try await client.scalar(
                """
                SELECT ARRAY[pg_column_compression(statuses_before), pg_column_compression(statuses_after),
                             pg_column_compression(check_results)]
                  FROM scada_event_checks
                """, as: [String].self)
            #expect(methods == ["lz4", "lz4", "lz4"])
        }
    }

    // MARK: - update_meter_status and the lookups

    @Test("update_meter_status: audit row, late events kept but not applied, errors")
    func updateMeterStatus() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute("UPDATE oms_meters SET last_status_change = NULL WHERE meter_number = 'M12345678'")
            let newer = try await client.scalar(
                """
                SELECT update_meter_status(p_meter_number := 'M12345678', p_new_status := 'off',
                    p_event_type := 'power_off', p_source_type := 'onu', p_source_event_id := 'ONU_EVENT_123',
                    p_event_timestamp := '2025-09-30 10:05Z')
                """, as: UUID.self)
            let older = try await client.scalar(
                """
                SELECT update_meter_status('M12345678', 'on', 'power_on', 'kaifa', 'KAIFA-9', '2025-09-30 10:01Z',
                                           '{"note": "delivered late"}')
                """, as: UUID.self)
            #expect(newer != older)
            #expect(try await client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M12345678'", as: String.self) == "off")
            #expect(try await client.scalar(
                "SELECT applied::text || ' ' || source_type || ' ' || confidence_score FROM oms_meter_status_events WHERE id = \(older)",
                as: String.self) == "false kaifa 0.800")
            #expect(try await client.scalar(
                "SELECT applied::text || ' ' || previous_status || '>' || new_status || ' ' || confidence_score FROM oms_meter_status_events WHERE id = \(newer)",
                as: String.self) == "true on>off 0.700")
            // The seed's example form, with the default time, is applied.
            _ = try await client.scalar(
                "SELECT update_meter_status('M12345678', 'on', 'power_on', 'manual', 'OP-1')", as: UUID.self)
            #expect(try await client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M12345678'", as: String.self) == "on")

            await #expect { try await client.execute("SELECT update_meter_status('NOPE', 'off', 'x', 'onu', 'y')") }
                throws: { $0.readableDatabaseMessage.contains("unknown meter \"NOPE\"") }
            await #expect { try await client.execute("SELECT update_meter_status('M12345678', 'down', 'x', 'onu', 'y')") }
                throws: { $0.readableDatabaseMessage.contains("invalid power status \"down\"") }
            await #expect { try await client.execute("SELECT update_meter_status('M12345678', 'off', 'x', 'sms', 'y')") }
                throws: { $0.readableDatabaseMessage.contains("invalid source type \"sms\"") }
        }
    }

    @Test("meters by substation and by feeder: active meters with the seed's columns")
    func lookups() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let bySubstation = try await database.psql("SELECT * FROM get_meters_by_substation('SS001');")
            #expect(bySubstation.columns == ["meter_id", "meter_number", "communication_status", "power_status",
                                             "last_communication", "customer_id", "location_lat", "location_lng"])
            #expect(bySubstation.rows.count == 900)
            let byFeeder = try await database.psql("SELECT * FROM get_meters_by_feeder('FD002');")
            #expect(byFeeder.rows.count == 300)
            try await database.client.execute("UPDATE oms_meters SET status = 'inactive' WHERE meter_number = 'M10000301'")
            #expect(try await database.psql("SELECT * FROM get_meters_by_feeder('FD002');").rows.count == 299)
            #expect(try await database.psql("SELECT * FROM get_meters_by_feeder('NOPE');").rows.isEmpty)
        }
    }

    @Test("a meter linked by hand to a second feeder is listed and checked there, first by its priority; the check is one row, read per meter through the seed's view")
    func handLinkedMeterAndCompactCheck() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // M10000301 is fed by FD002; a tie switch links it to FD003 too, with a higher priority.
            try await client.linkByHand(meter: "M10000301", toFeeder: "FD003", circuitPath: "FD003 tie switch", priority: 10)
            let own = try await client.scalar(
                "SELECT count(*)::int FROM oms_meters_with_topology WHERE feeder_code = 'FD003' AND status = 'active'",
                as: Int.self)
            let listed = try await client.scalar(
                "SELECT array_agg(meter_number) FROM get_meters_by_feeder('FD003')", as: [String].self)
            #expect(listed.count == own + 1)
            #expect(listed.first == "M10000301")
            #expect(Set(listed).count == listed.count)

            let summary = try await check(trip("SS001", "FD003", at: ISO8601DateFormatter().string(from: Date())), on: client)
            #expect(summary.totalMeters == own + 1)
            // One row for the check, its counts those of the summary and of the view's rows.
            let row = try await client.query(
                """
                SELECT c.total_meters, c.offline_meters, c.online_meters, c.unknown_meters, cardinality(c.meter_ids),
                       (SELECT count(*)::int FROM scada_event_affected_meters a WHERE a.scada_event_id = c.scada_event_id),
                       (SELECT count(*)::int FROM scada_event_affected_meters a
                          JOIN oms_meters m ON m.id = a.meter_id
                         WHERE a.scada_event_id = c.scada_event_id AND m.meter_number = 'M10000301')
                  FROM scada_event_checks c
                """)
            var rows: [(Int, Int, Int, Int, Int, Int, Int)] = []
            for try await r in row.decode((Int, Int, Int, Int, Int, Int, Int).self) { rows.append(r) }
            #expect(rows.count == 1)
            if let first = rows.first {
                #expect(first.0 == summary.totalMeters && first.4 == summary.totalMeters && first.5 == summary.totalMeters)
                #expect(first.1 == summary.offlineMeters && first.2 == summary.onlineMeters
                        && first.3 == summary.unknownMeters)
                #expect(first.6 == 1)
            }
            // The check goes with its event.
            try await client.execute("DELETE FROM scada_events")
            #expect(try await count("scada_event_checks", on: client) == 0)
            #expect(try await count("scada_event_affected_meters", on: client) == 0)
        }
    }
}
