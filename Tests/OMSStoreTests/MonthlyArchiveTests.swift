import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The tables kept by month (issue 17, item 9): `oms_meter_status_events` is partitioned by the month
/// each row was written, `kaifa_events` and `onu_events` by the month of the event; past months are
/// written to files and dropped (`MonthlyArchive.archive`, `oms archive`) and loaded back (`restore`,
/// `oms restore-archive`), the seed's queries unchanged.
@Suite("The audit trail and the AMI and ONU events by month: partitions, archive, restore")
struct MonthlyArchiveTests {
    let logger = TestDatabase.logger

    @Test("the audit trail is partitioned by month: this month's and the next three made ahead, a row lands in its month, a month without a partition is caught by the default and moved when it is made")
    func partitions() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            #expect(try await client.scalar("SELECT relkind::text FROM pg_class WHERE relname = 'oms_meter_status_events'", as: String.self) == "p")
            let months = try await client.fetch(
                "SELECT partition_name FROM oms_partitions('oms_meter_status_events') WHERE month_end > now()", logger: logger).decode(String.self)
            #expect(months.count >= 4, "\(months)")
            // A status change lands in this month's partition; the seed's history query reads it.
            try await client.execute("SELECT update_meter_status('M12345678', 'off', 'power_down', 'manual', 'audit-1')")
            let thisMonth = try await client.scalar(
                "SELECT tableoid::regclass::text FROM oms_meter_status_events WHERE source_event_id = 'audit-1'", as: String.self)
            #expect(thisMonth == "oms_meter_status_events_" + (try await client.scalar(
                "SELECT to_char(now() AT TIME ZONE 'UTC', '\"y\"YYYY\"m\"MM')", as: String.self)))
            let history = try await database.psql("""
                SELECT mse.event_timestamp, mse.event_type, mse.source_type,
                       mse.previous_status || ' → ' || mse.new_status as status_change, mse.confidence_score
                FROM oms_meter_status_events mse JOIN oms_meters m ON mse.meter_id = m.id
                WHERE m.meter_number = 'M12345678' ORDER BY mse.event_timestamp DESC LIMIT 20;
                """)
            #expect(history.column("event_type").contains("power_down"))
            // A row of a month with no partition goes to the default one, and moves when the month's is made.
            try await client.execute("""
                INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, new_status, created_at)
                SELECT id, 'power_down', 'manual', 'off', '2025-03-10T00:00:00Z' FROM oms_meters LIMIT 3
                """)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_default", as: Int.self) == 3)
            #expect(try await client.scalar("SELECT oms_partition_create('oms_meter_status_events', '2025-03-31T23:00:00Z')", as: String.self)
                == "oms_meter_status_events_y2025m03")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_default", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_y2025m03", as: Int.self) == 3)
            // Two more months ahead for each of the three tables kept by month.
            #expect(try await client.scalar("SELECT oms_partitions_ensure(5)", as: Int.self) == 6)
            #expect(try await client.scalar("SELECT oms_partitions_ensure(5)", as: Int.self) == 0)
            await #expect(throws: PSQLError.self) { try await client.execute("SELECT * FROM oms_partitions('scada_events')") }
        }
    }

    @Test("AMI and ONU events are kept by the month of the event: a repeat (the same id, whatever its time and month) is found in the batch and in the table, an event of a month without a partition waits in the default one")
    func feedEventsByMonth() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            for table in ["kaifa_events", "onu_events"] {
                #expect(try await client.scalar(PostgresQuery(unsafeSQL: "SELECT relkind::text FROM pg_class WHERE relname = '\(table)'"),
                                                as: String.self) == "p")
            }
            func gasp(_ id: String, _ time: String) -> String {
                #"{"mRID": "\#(id)", "EndDeviceEventType": {"ref": "3.26.0.47"}, "meterNumber": "M12345678", "createdDateTime": "\#(time)"}"#
            }
            let now = try await client.scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", as: String.self)
            let earlier = try await client.scalar(
                "SELECT to_char((now() - interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", as: String.self)
            // One batch: a last gasp, its repeat, and the same mRID sent again with another time (a repeat too).
            let batch = "[\(gasp("g-1", now)), \(gasp("g-1", now)), \(gasp("g-1", earlier))]"
            try await client.execute("SELECT insert_kaifa_events_with_meter_sync(\(batch)::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'g-1'", as: Int.self) == 1)
            #expect(try await client.scalar(
                "SELECT tableoid::regclass::text FROM kaifa_events WHERE source_event_id = 'g-1'",
                as: String.self) == "kaifa_events_" + (try await client.scalar(
                    "SELECT to_char(\(now)::timestamptz AT TIME ZONE 'UTC', '\"y\"YYYY\"m\"MM')", as: String.self)))
            // Delivered again, alone and in a batch: nothing new.
            try await client.execute("SELECT insert_kaifa_events_with_meter_sync(\(batch)::jsonb)")
            try await client.execute("SELECT insert_kaifa_event_from_json(\(gasp("g-1", now))::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'g-1'", as: Int.self) == 1)
            // The id is known whatever the month: sent again with a time two months back, still a repeat.
            try await client.execute("SELECT insert_kaifa_event_from_json(\(gasp("g-1", "2024-05-05T09:00:00Z"))::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'g-1'", as: Int.self) == 1)
            // An event of 2024 (no partition): the default partition keeps it until its month is made.
            try await client.execute("SELECT insert_kaifa_event_from_json(\(gasp("old-1", "2024-05-05T10:00:00Z"))::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events_default", as: Int.self) == 1)
            #expect(try await client.scalar("SELECT oms_partition_create('kaifa_events', '2024-05-01T00:00:00Z')", as: String.self)
                == "kaifa_events_y2024m05")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events_y2024m05", as: Int.self) == 1)
            try await client.execute("SELECT insert_kaifa_event_from_json(\(gasp("old-1", "2024-05-05T10:00:00Z"))::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'old-1'", as: Int.self) == 1)
            // ONU: the same rules through the batch function.
            let onu = #"[{"type": "ONU_LastGaspAlert", "eventId": "o-1", "onuId": "ONU-1", "timestamp": "\#(now)"}, {"type": "ONU_LastGaspAlert", "eventId": "o-1", "onuId": "ONU-1", "timestamp": "\#(now)"}]"#
            try await client.execute("SELECT insert_onu_events_with_meter_sync(\(onu)::jsonb)")
            try await client.execute("SELECT insert_onu_events_with_meter_sync(\(onu)::jsonb)")
            #expect(try await client.scalar("SELECT count(*)::int FROM onu_events WHERE source_event_id = 'o-1'", as: Int.self) == 1)
        }
    }

    @Test("archive writes the months before a date to files and drops them; restore brings back the same rows; a second restore and a changed file are refused",
          arguments: MonthlyArchive.Format.allCases)
    func archiveAndRestore(format: MonthlyArchive.Format) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-archive-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // Two past months of audit rows (written then: created_at), and this month's.
            for (month, count) in [("2026-01", 120), ("2026-02", 80)] {
                try await client.execute(PostgresQuery(unsafeSQL: """
                    SELECT oms_partition_create('oms_meter_status_events', '\(month)-15T00:00:00Z');
                    """))
                try await client.execute(PostgresQuery(unsafeSQL: """
                    INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id, previous_status,
                                                         new_status, event_timestamp, confidence_score, metadata, created_at)
                    SELECT m.id, 'power_down', 'kaifa', 'old-' || n, 'on', 'off',
                           '\(month)-01T00:00:00Z'::timestamptz + make_interval(mins => n),
                           0.8, jsonb_build_object('n', n, 'text', 'a "quoted", line' || chr(10) || 'break'),
                           '\(month)-01T00:00:00Z'::timestamptz + make_interval(mins => n)
                      FROM generate_series(1, \(count)) n
                      JOIN LATERAL (SELECT id FROM oms_meters ORDER BY meter_number OFFSET n LIMIT 1) m ON true
                    """))
            }
            // January's last gasps from the head-end (by the events' own month).
            try await client.execute("SELECT oms_partition_create('kaifa_events', '2026-01-15T00:00:00Z')")
            try await client.execute("""
                SELECT insert_kaifa_event_from_json(jsonb_build_object(
                    'mRID', 'jan-' || n, 'EndDeviceEventType', jsonb_build_object('ref', '3.26.0.47'),
                    'meterNumber', 'M12345678', 'createdDateTime', to_char('2026-01-10T00:00:00Z'::timestamptz
                        + make_interval(mins => n), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
                  FROM generate_series(1, 30) n
                """)
            try await client.execute("SELECT update_meter_status('M12345678', 'off', 'power_down', 'manual', 'now-1')")
            let allRows = """
                SELECT md5((SELECT string_agg(t::text, '|' ORDER BY id) FROM oms_meter_status_events t)
                           || (SELECT string_agg(k::text, '|' ORDER BY id) FROM kaifa_events k))
                """
            let before = try await client.scalar(PostgresQuery(unsafeSQL: allRows), as: String.self)
            let total = try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self)

            let url = try DatabaseURL(try await TestDatabase.server().connectionURL(database: database.name))
            let archive = MonthlyArchive(
                client: client, url: url, psql: try PostgresInstallation.locate().tool("psql"), logger: logger)
            let cutoff = try #require(ISO8601DateFormatter().date(from: "2026-03-01T00:00:00Z"))
            let archived = try await archive.archive(before: cutoff, to: folder, format: format)
            #expect(archived.map(\.partition) == ["oms_meter_status_events_y2026m01", "oms_meter_status_events_y2026m02",
                                                   "kaifa_events_y2026m01"])
            #expect(archived.map(\.rows) == [120, 80, 30])
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id LIKE 'jan-%'", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_event_ids WHERE source_event_id LIKE 'jan-%'", as: Int.self) == 0,
                    "the archived events' ids are forgotten with them")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total - 200)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM pg_class WHERE relname IN ('oms_meter_status_events_y2026m01', 'oms_meter_status_events_y2026m02')",
                as: Int.self) == 0, "the archived months are dropped")
            for entry in archived {
                #expect(FileManager.default.fileExists(atPath: "\(folder)/\(entry.file)"))
            }
            #expect(try await archive.archive(before: cutoff, to: folder, format: format).isEmpty, "nothing left to archive")

            let restored = try await archive.restore(from: folder)
            #expect(Set(restored.map(\.rows)) == [120, 80, 30])
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id LIKE 'jan-%'", as: Int.self) == 30)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_event_ids WHERE source_event_id LIKE 'jan-%'", as: Int.self) == 30,
                    "and known again when restored")
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: allRows), as: String.self) == before, "the same rows, byte for byte")
            await #expect(throws: MonthlyArchive.Failure.self) { _ = try await archive.restore(from: folder) }
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total)

            // A file changed since it was archived is refused, and nothing of its month is loaded.
            _ = try await archive.archive(before: cutoff, to: "\(folder)/again", format: format)
            let file = "\(folder)/again/\(archived[0].file)"
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("x".utf8))
            try handle.close()
            await #expect(throws: MonthlyArchive.Failure.self) { _ = try await archive.restore(from: "\(folder)/again") }
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total - 200)
        }
    }
}
