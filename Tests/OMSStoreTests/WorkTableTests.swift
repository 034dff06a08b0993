import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// A storm batch's path through the database: the session work tables of a feed call
/// (01_helpers.sql) emptied by the commit in place, so the next call of the session neither
/// truncates them nor plans its statements again; the link work table analyzed again when its
/// statistics would mislead (06_correlation.sql); a status change's plan, kept for the session,
/// that stays right whatever its first call held, and its announcement made in the same statement
/// (05_status.sql, versioned/0122); and the meters' pages, with room for a storm's status changes
/// (versioned/0121).
@Suite("A storm batch's path: work tables, plans, pages")
struct WorkTableTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    @Test("a committed feed call leaves its work tables empty, in the same file, for the next call")
    func emptiedByTheCommit() async throws {
        try await withNetwork { client in
            try await client.withConnection { connection in
                // On this one connection: the work tables are its session's.
                func gasps(_ meters: [String], at seconds: Double) async throws {
                    _ = try await connection.query(
                        "SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch(meters, at: seconds))::jsonb)",
                        logger: TestDatabase.logger).collect()
                }
                func workTables() async throws -> [String: (rows: Int, file: Int)] {
                    var result: [String: (rows: Int, file: Int)] = [:]
                    for table in ["oms_kaifa_staged", "oms_link_work", "oms_feed_outcomes"] {
                        let rows = try await connection.query(
                            PostgresQuery(unsafeSQL: "SELECT count(*)::int, pg_relation_filenode('pg_temp.\(table)')::int FROM pg_temp.\(table)"),
                            logger: TestDatabase.logger)
                        for try await (count, file) in rows.decode((Int, Int).self) { result[table] = (count, file) }
                    }
                    return result
                }

                let meters = (1...4).flatMap { dp in (1...4).map { "M-F1-D\(dp)-\($0)" } }
                try await gasps(meters, at: 0)
                let first = try await workTables()
                #expect(first.count == 3)
                #expect(first.values.allSatisfy { $0.rows == 0 }, "\(first)")

                try await gasps(["M-F2-D1-1"], at: 60)
                let second = try await workTables()
                #expect(second.values.allSatisfy { $0.rows == 0 }, "\(second)")
                for (table, state) in first {
                    #expect(second[table]?.file == state.file, "\(table) was given a new file (truncated by the call)")
                }
            }
        }
    }

    /// The link work table's statistics, whatever the session's batches held (06_correlation.sql,
    /// `oms_link_work_analyze`).
    @Test("the link work table is analyzed again when its rows with and without an outage move far from its statistics, not at every batch")
    func analyzedWhenMisleading() async throws {
        try await withNetwork { client in
            // Batches large enough for the table to be analyzed.
            try await addMeters(client)
            try await client.withConnection { connection in
                func run(_ sql: String) async throws -> [String] { try await lines(connection, sql) }
                func gasps(_ dp: String, at seconds: Double) async throws {
                    _ = try await connection.query(
                        "SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch((1...304).map { "M-\(dp)-\($0)" }, at: seconds))::jsonb)",
                        logger: TestDatabase.logger).collect()
                }
                func analyses() async throws -> Int {
                    _ = try await run("SELECT pg_stat_clear_snapshot()::text")
                    return Int(try await run("SELECT pg_stat_get_analyze_count('pg_temp.oms_link_work'::regclass)::text").first ?? "") ?? -1
                }

                // The session's first large batch: every row is without an outage when first
                // analyzed, and has one a few statements later.
                _ = try await run("BEGIN")
                try await gasps("F1-D1", at: 0)
                #expect(try await run("SELECT count(*)::text FROM oms_link_work WHERE outage_event_id IS NOT NULL") == ["304"])
                // What the planner expects of those rows, as every statement after the outages open
                // reads them ("1 row" was a nested loop of a batch's pairs with themselves).
                let plan = try await run("EXPLAIN SELECT * FROM oms_link_work WHERE outage_event_id IS NOT NULL")
                let estimated = plan.first.flatMap { $0.firstMatch(of: /rows=(\d+)/).map { Int($0.1)! } }
                #expect((estimated ?? 0) >= 150, "\(plan)")
                _ = try await run("COMMIT")
                let first = try await analyses()

                // Another batch of new outages: without an outage first (analyzed), then with one (again).
                try await gasps("F2-D1", at: 600)
                let second = try await analyses()
                #expect(second - first == 2)

                // A batch the open outages cover: the statistics hold, nothing is analyzed.
                try await gasps("F2-D1", at: 660)
                #expect(try await analyses() == second)
            }
        }
    }

    /// A status change and its announcement read each change's meter by its key: a plan kept for
    /// the session is made at its first call, and a join made for a large first call hashed the
    /// whole registry at every later one (the announcing trigger before 0122 did).
    @Test("after a session's large status change, announcing a one-meter change reads that meter by its key, not the registry")
    func announcementReadsMetersByKey() async throws {
        try await withNetwork { client in
            try await addMeters(client)
            try await client.withConnection { connection in
                func run(_ sql: String) async throws -> [String] { try await lines(connection, sql) }
                func registryScans() async throws -> Int {
                    Int(try await run("SELECT seq_scan::text FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters'").first ?? "") ?? -1
                }

                // The session's first announcement: 304 meters off.
                #expect(try await run("""
                    SELECT count(*)::text FROM oms_apply_meter_status(
                        ARRAY(SELECT id FROM oms_meters WHERE meter_number LIKE 'M-F1-D1-%'), 'power_status', 'off',
                        'power_off', 'manual', 'T-1', now(), 1, NULL, true)
                    """) == ["304"])

                // One meter off, in a transaction of its own: no scan of the registry.
                _ = try await run("BEGIN")
                let before = try await registryScans()
                #expect(try await run("SELECT (update_meter_status('M-F2-D2-1', 'off', 'power_off', 'manual', 'T-2') IS NOT NULL)::text") == ["true"])
                let after = try await registryScans()
                _ = try await run("COMMIT")
                #expect(before >= 0)
                #expect(after == before, "the registry was scanned \(after - before) time(s)")
            }
        }
    }

    /// The changes a call applies are announced on `oms_events` by the call itself, 40 to a
    /// notification, with their meters' numbers: not the late ones, nor one that changes nothing.
    @Test("a call's applied changes are announced 40 to a notification with their meter numbers; a late change and a non-change are not")
    func appliedChangesAnnounced() async throws {
        try await withNetwork { client in
            try await addMeters(client)
            // The meter of the late change below has a newer change already.
            try await client.execute("SELECT update_meter_status('M-F2-D1-5', 'off', 'power_off', 'manual', 'T-0')")
            let payloads = try await client.withConnection { listener in
                try await listener.listen(on: "oms_events") { notifications in
                    try await client.execute("""
                        SELECT count(*) FROM oms_apply_status_changes(
                            ARRAY(SELECT ROW(m.id, 'power_status', 'off', 'power_off', 'T-1', now(), NULL)::oms_status_change
                                    FROM oms_meters m WHERE m.meter_number LIKE 'M-F1-D1-%' ORDER BY m.meter_number LIMIT 84)
                            || ARRAY[ROW((SELECT id FROM oms_meters WHERE meter_number = 'M-F2-D1-5'), 'power_status', 'on',
                                         'power_on', 'T-1', now() - interval '1 hour', NULL)::oms_status_change,
                                     ROW((SELECT id FROM oms_meters WHERE meter_number = 'M-F2-D1-6'), 'power_status', 'on',
                                         'power_on', 'T-1', now(), NULL)::oms_status_change],
                            'manual', 1, true)
                        """)
                    // Delivered after the call's notifications (its transaction committed first).
                    try await client.execute("SELECT pg_notify('oms_events', 'end of test')")
                    var payloads: [String] = []
                    for try await notification in notifications {
                        if notification.payload == "end of test" { break }
                        payloads.append(notification.payload)
                    }
                    return payloads
                }
            }
            let changes = try payloads.map { payload in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
                #expect(object["type"] as? String == "meter.status_changed")
                return try #require(object["changes"] as? [[String: Any]])
            }
            #expect(changes.map(\.count) == [40, 40, 4])
            let all = changes.flatMap { $0 }
            #expect(Set(all.compactMap { $0["meter_number"] as? String }).count == 84)
            #expect(all.allSatisfy { ($0["meter_number"] as? String)?.hasPrefix("M-F1-D1-") == true })
            #expect(all.allSatisfy {
                $0["field"] as? String == "power_status" && $0["previous"] as? String == "on" && $0["status"] as? String == "off"
                    && $0["source"] as? String == "manual" && $0["at"] is String
            })
        }
    }

    /// Meters loaded side by side, all going off in one batch, change in place (a HOT update: no
    /// new entry in any of the registry's indexes); at the old fillfactor (85) most moved to new pages.
    @Test("a batch taking out every meter of pages loaded side by side updates them in place, without new index entries")
    func statusChangesStayOnTheirPages() async throws {
        try await withNetwork { client in
            try await addMeters(client)
            try await client.withConnection { connection in
                let meters = (1...304).map { "M-F1-D1-\($0)" }
                _ = try await lines(connection, "BEGIN")
                _ = try await connection.query(
                    "SELECT insert_kaifa_events_with_meter_sync(\(gaspBatch(meters, at: 0))::jsonb)",
                    logger: TestDatabase.logger).collect()
                let counts = try await lines(
                    connection,
                    "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters'")
                _ = try await lines(connection, "COMMIT")
                let numbers = counts.first?.split(separator: " ").compactMap { Int($0) } ?? []
                try #require(numbers.count == 2, "\(counts)")
                let (updates, inPlace) = (numbers[0], numbers[1])
                #expect(updates >= 304)
                #expect(inPlace * 10 >= updates * 9, "\(inPlace) of \(updates) status updates in place")
            }
        }
    }

    /// The text of each row of a one-column query, on the given connection (its session).
    private func lines(_ connection: PostgresConnection, _ sql: String) async throws -> [String] {
        var lines: [String] = []
        for try await line in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            .decode(String.self) { lines.append(line) }
        return lines
    }

    /// 300 more meters under F1-D1 and F2-D1 (M-F1-D1-5 … M-F1-D1-304, M-F2-D1-5 …).
    private func addMeters(_ client: PostgresClient) async throws {
        try await client.execute("""
            INSERT INTO oms_meters (meter_number, dp_id, asset_mrid, power_status, communication_status)
            SELECT 'M-' || d.dp_id || '-' || m, d.id, 'A-' || d.dp_id || '-' || m, 'on', 'online'
              FROM network_distribution_points d CROSS JOIN generate_series(5, 304) m
             WHERE d.dp_id IN ('F1-D1', 'F2-D1')
            """)
    }
}
