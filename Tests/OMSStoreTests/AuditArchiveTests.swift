import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The audit trail by month (issue 17, item 9): `oms_meter_status_events` is partitioned by the month
/// each row was written; past months are written to files and dropped (`AuditArchive.archive`,
/// `oms archive`) and loaded back (`restore`, `oms restore-archive`), the seed's queries unchanged.
@Suite("The audit trail by month: partitions, archive, restore")
struct AuditArchiveTests {
    let logger = TestDatabase.logger

    @Test("the audit trail is partitioned by month: this month's and the next three made ahead, a row lands in its month, a month without a partition is caught by the default and moved when it is made")
    func partitions() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            #expect(try await client.scalar("SELECT relkind::text FROM pg_class WHERE relname = 'oms_meter_status_events'", as: String.self) == "p")
            let months = try await client.fetch(
                "SELECT partition_name FROM oms_audit_partitions() WHERE month_end > now()", logger: logger).decode(String.self)
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
            #expect(try await client.scalar("SELECT oms_audit_partition_create('2025-03-31T23:00:00Z')", as: String.self)
                == "oms_meter_status_events_y2025m03")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_default", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events_y2025m03", as: Int.self) == 3)
            #expect(try await client.scalar("SELECT oms_audit_partitions_ensure(5)", as: Int.self) == 2)
            #expect(try await client.scalar("SELECT oms_audit_partitions_ensure(5)", as: Int.self) == 0)
        }
    }

    @Test("archive writes the months before a date to files and drops them; restore brings back the same rows; a second restore and a changed file are refused",
          arguments: AuditArchive.Format.allCases)
    func archiveAndRestore(format: AuditArchive.Format) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-archive-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // Two past months of audit rows (written then: created_at), and this month's.
            for (month, count) in [("2026-01", 120), ("2026-02", 80)] {
                try await client.execute(PostgresQuery(unsafeSQL: """
                    SELECT oms_audit_partition_create('\(month)-15T00:00:00Z');
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
            try await client.execute("SELECT update_meter_status('M12345678', 'off', 'power_down', 'manual', 'now-1')")
            let allRows = "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM oms_meter_status_events t"
            let before = try await client.scalar(PostgresQuery(unsafeSQL: allRows), as: String.self)
            let total = try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self)

            let url = try DatabaseURL(try await TestDatabase.server().connectionURL(database: database.name))
            let archive = AuditArchive(
                client: client, url: url, psql: try PostgresInstallation.locate().tool("psql"), logger: logger)
            let cutoff = try #require(ISO8601DateFormatter().date(from: "2026-03-01T00:00:00Z"))
            let archived = try await archive.archive(before: cutoff, to: folder, format: format)
            #expect(archived.map(\.partition) == ["oms_meter_status_events_y2026m01", "oms_meter_status_events_y2026m02"])
            #expect(archived.map(\.rows) == [120, 80])
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total - 200)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM pg_class WHERE relname IN ('oms_meter_status_events_y2026m01', 'oms_meter_status_events_y2026m02')",
                as: Int.self) == 0, "the archived months are dropped")
            for entry in archived {
                #expect(FileManager.default.fileExists(atPath: "\(folder)/\(entry.file)"))
            }
            #expect(try await archive.archive(before: cutoff, to: folder, format: format).isEmpty, "nothing left to archive")

            let restored = try await archive.restore(from: folder)
            #expect(restored.map(\.rows) == [120, 80])
            #expect(try await client.scalar(PostgresQuery(unsafeSQL: allRows), as: String.self) == before, "the same rows, byte for byte")
            await #expect(throws: AuditArchive.Failure.self) { _ = try await archive.restore(from: folder) }
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total)

            // A file changed since it was archived is refused, and nothing of its month is loaded.
            _ = try await archive.archive(before: cutoff, to: "\(folder)/again", format: format)
            let file = "\(folder)/again/\(archived[0].file)"
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("x".utf8))
            try handle.close()
            await #expect(throws: AuditArchive.Failure.self) { _ = try await archive.restore(from: "\(folder)/again") }
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == total - 200)
        }
    }
}
