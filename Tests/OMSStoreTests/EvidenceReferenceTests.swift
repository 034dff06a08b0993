import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The evidence rows' references without foreign keys (versioned/0118): deleting or truncating a
/// meter or an outage still removes what named it (26_evidence_references.sql), and
/// `oms_validation_report()` names a reference written by hand that resolves to nothing.
@Suite("Evidence references")
struct EvidenceReferenceTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    /// Rows naming the outage, by table.
    func rowsNaming(outage id: UUID, _ client: PostgresClient) async throws -> [String: Int] {
        let row = try await client.fetch("""
            SELECT (SELECT count(*) FROM oms_outage_meters WHERE outage_event_id = \(id))::int,
                   (SELECT count(*) FROM oms_event_sources WHERE outage_event_id = \(id))::int,
                   (SELECT count(*) FROM oms_event_timeline WHERE outage_event_id = \(id))::int,
                   (SELECT count(*) FROM kaifa_events WHERE outage_event_id = \(id))::int
            """, logger: TestDatabase.logger).rows[0]
        let (meters, sources, timeline, kaifa) = try row.decode((Int, Int, Int, Int).self)
        return ["meters": meters, "sources": sources, "timeline": timeline, "kaifa": kaifa]
    }

    func evidenceCheck(_ client: PostgresClient) async throws -> ValidationCheck {
        let checks = try await SchemaInspector(client: client, logger: TestDatabase.logger).validationReport()
        return try #require(checks.first { $0.name == "evidence references resolve" })
    }

    @Test("deleting an outage deletes its meters, evidence and timeline, and clears its AMI events' outage")
    func outageDeleted() async throws {
        try await withNetwork { client in
            try await gasps(["M-F1-D1-1", "M-F1-D1-2", "M-F1-D1-3"], at: 0, on: client)
            let outage = try await client.scalar("SELECT id FROM oms_outage_events", as: UUID.self)
            let before = try await rowsNaming(outage: outage, client)
            #expect(before["meters"] == 3 && before["sources"] == 3 && before["kaifa"] == 3)
            #expect(before["timeline", default: 0] > 0)

            try await client.execute("DELETE FROM oms_outage_events WHERE id = \(outage)")
            #expect(try await rowsNaming(outage: outage, client) == ["meters": 0, "sources": 0, "timeline": 0, "kaifa": 0])
            // The events stay, naming no outage.
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE outage_event_id IS NULL", as: Int.self) == 3)
            #expect(try await evidenceCheck(client).passed)
        }
    }

    @Test("deleting a meter deletes its status audit and its rows in outages")
    func meterDeleted() async throws {
        try await withNetwork { client in
            try await gasps(["M-F1-D1-1", "M-F1-D1-2"], at: 0, on: client)
            let meter = try await client.scalar("SELECT id FROM oms_meters WHERE meter_number = 'M-F1-D1-1'", as: UUID.self)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events WHERE meter_id = \(meter)", as: Int.self) == 1)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_meters WHERE meter_id = \(meter)", as: Int.self) == 1)

            try await client.execute("DELETE FROM oms_meters WHERE id = \(meter)")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events WHERE meter_id = \(meter)", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_meters WHERE meter_id = \(meter)", as: Int.self) == 0)
            // The other meter's rows stay.
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_meters", as: Int.self) == 1)
            #expect(try await evidenceCheck(client).passed)
        }
    }

    @Test("TRUNCATE of the outages empties their meters, evidence and timeline; of the registry, the audit trail")
    func truncated() async throws {
        try await withNetwork { client in
            try await gasps(["M-F1-D1-1", "M-F1-D1-2"], at: 0, on: client)
            try await client.execute("TRUNCATE oms_outage_events CASCADE")
            let left = try await client.scalar("""
                SELECT ((SELECT count(*) FROM oms_outage_meters) + (SELECT count(*) FROM oms_event_sources)
                        + (SELECT count(*) FROM oms_event_timeline)
                        + (SELECT count(*) FROM kaifa_events WHERE outage_event_id IS NOT NULL))::int
                """, as: Int.self)
            #expect(left == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events", as: Int.self) == 2)

            // One of the tables its trigger empties named in the same statement: no refusal.
            try await gasps(["M-F2-D1-1", "M-F2-D1-2"], at: 60, on: client)
            try await client.execute("TRUNCATE oms_outage_events, oms_event_timeline CASCADE")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_meters", as: Int.self) == 0)

            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == 4)
            try await client.execute("TRUNCATE oms_meters CASCADE")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meter_status_events", as: Int.self) == 0)
        }
    }

    @Test("a reference written by hand that resolves to nothing is named by oms validate")
    func danglingReferenceReported() async throws {
        try await withNetwork { client in
            #expect(try await evidenceCheck(client).passed)
            try await client.execute("""
                INSERT INTO oms_event_timeline (outage_event_id, event_type, description)
                VALUES (gen_random_uuid(), 'note', 'written by hand')
                """)
            let check = try await evidenceCheck(client)
            #expect(!check.passed)
            #expect(check.detail == "references to no row: oms_event_timeline.outage_event_id (1 rows)")
        }
    }
}
