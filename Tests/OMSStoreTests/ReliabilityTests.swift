import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// IEEE 1366 indices (22_reliability.sql) on hand-worked vectors.
@Suite("Reliability indices: IEEE 1366 on hand-worked numbers, major event days by 2.5 beta")
struct ReliabilityTests {
    /// A network of `customers` customers, one meter each, on one feeder of one substation.
    func network(customers: Int, _ client: PostgresClient) async throws {
        try await client.execute("""
            WITH s AS (INSERT INTO network_substations (substation_id) VALUES ('R1') RETURNING id)
            INSERT INTO network_feeders (feeder_id, substation_id) SELECT 'R1-F1', id FROM s
            """)
        try await client.execute("""
            INSERT INTO oms_customers (customer_id) SELECT 'RC' || n FROM generate_series(1, \(customers)) n
            """)
        try await client.execute("""
            INSERT INTO oms_meters (meter_number, customer_id, feeder_id)
            SELECT 'RM' || n, c.id, f.id FROM generate_series(1, \(customers)) n
              JOIN oms_customers c ON c.customer_id = 'RC' || n CROSS JOIN network_feeders f
            """)
    }

    /// An outage of customers RC`first`…RC`last`, from `start` for `minutes`.
    func outage(_ code: String, customers range: ClosedRange<Int>, start: String, minutes: Double, momentary: Bool,
                interruptions: Int = 1, _ client: PostgresClient) async throws {
        try await client.execute("""
            WITH o AS (
                INSERT INTO oms_outage_events (event_id, status, momentary, interruptions, substation_id, feeder_id,
                                               first_detected_at, actual_restoration_time)
                SELECT \(code), 'restored', \(momentary), \(interruptions), f.substation_id, f.id, \(start)::timestamptz,
                       \(start)::timestamptz + make_interval(secs => \(minutes * 60))
                  FROM network_feeders f RETURNING id, first_detected_at, actual_restoration_time)
            INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at,
                                           restored_at, restored_by)
            SELECT o.id, m.id, 'system', o.first_detected_at, o.first_detected_at, o.actual_restoration_time, 'telemetry'
              FROM o, oms_meters m WHERE m.meter_number IN (SELECT 'RM' || n FROM generate_series(\(range.lowerBound), \(range.upperBound)) n)
            """)
    }

    struct Indices: Decodable, Equatable {
        var customers_served: Int
        var saifi: Double
        var saidi: Double
        var caidi: Double?
        var maifi: Double
        var maifie: Double
        var major_event_days: [String]
        var t_med: Double?
        var saidi_excluding_med: Double
    }

    func indices(from: String, to: String, _ client: PostgresClient) async throws -> Indices {
        let json = try await client.scalar(
            "SELECT to_jsonb(r)::text FROM oms_reliability(\(from)::timestamptz, \(to)::timestamptz) r", as: String.self)
        return try JSONDecoder().decode(Indices.self, from: Data(json.utf8))
    }

    @Test("18,500 customers; momentary interruptions of 556 and 191; 471 customers out 30 minutes -> MAIFI 0.0404, SAIFI 0.0255, SAIDI 0.764, CAIDI 30.0")
    func handWorked() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await network(customers: 18_500, client)
            try await outage("OM1", customers: 1...556, start: "2025-03-01T10:00:00Z", minutes: 2, momentary: true, client)
            try await outage("OM2", customers: 1000...1190, start: "2025-03-02T10:00:00Z", minutes: 1, momentary: true, client)
            try await outage("OS1", customers: 2000...2470, start: "2025-03-03T10:00:00Z", minutes: 30, momentary: false, client)
            let result = try await indices(from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", client)
            #expect(result.customers_served == 18_500)
            #expect((result.maifi * 10_000).rounded() / 10_000 == 0.0404)
            #expect(result.maifie == result.maifi)  // one interruption per sequence here
            #expect((result.saifi * 10_000).rounded() / 10_000 == 0.0255)
            #expect((result.saidi * 1_000).rounded() / 1_000 == 0.764)
            #expect(result.caidi == 30)
        }
    }

    @Test("an outage still open counts its minutes up to now, not to a period's end in the future; daily SAIDI has a row per day")
    func openOutageCountsUpToNow() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await network(customers: 100, client)
            // 10 customers out since 30 minutes ago, not restored.
            try await client.execute("""
                WITH o AS (
                    INSERT INTO oms_outage_events (event_id, status, substation_id, feeder_id, first_detected_at)
                    SELECT 'OPEN1', 'confirmed', f.substation_id, f.id, now() - interval '30 minutes' FROM network_feeders f
                    RETURNING id, first_detected_at)
                INSERT INTO oms_outage_meters (outage_event_id, meter_id, source_type, first_evidence_at, last_evidence_at)
                SELECT o.id, m.id, 'system', o.first_detected_at, o.first_detected_at
                  FROM o, oms_meters m WHERE m.meter_number IN (SELECT 'RM' || n FROM generate_series(1, 10) n)
                """)
            let saidi = try await client.scalar(
                "SELECT saidi::float8 FROM oms_reliability(now() - interval '1 day', now() + interval '2 days')", as: Double.self)
            // 10 customers x 30 minutes / 100 served = 3 minutes (a little more while the test runs), not 10 x ~2 days.
            #expect(saidi >= 3 && saidi < 3.5, "SAIDI \(saidi)")
            let days = try await client.fetch(
                "SELECT day::text, saidi::float8 FROM oms_reliability_daily(now() - interval '3 days', now())", logger: TestDatabase.logger
            ).decode((String, Double).self)
            #expect(days.count == 4, "one row per UTC day the period touches: \(days)")
            #expect(days.filter { $0.1 > 0 }.count == 1)
            #expect(abs(days.map(\.1).reduce(0, +) - saidi) < 0.05, "the days add up to the period's SAIDI")
        }
    }

    @Test("major event days by 2.5 beta: daily SAIDI 1, 2, 1, 2, 1, 2, 1, 2, 1, 50 minutes -> T_MED 38.28, the 50-minute day only")
    func majorEventDays() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await network(customers: 100, client)
            // 100 customers out for d minutes each day: daily SAIDI = d.
            for (day, minutes) in [1, 2, 1, 2, 1, 2, 1, 2, 1, 50].enumerated() {
                let start = String(format: "2025-04-%02dT10:00:00Z", day + 1)
                try await outage("D\(day)", customers: 1...100, start: start, minutes: Double(minutes), momentary: false, client)
            }
            // A reclosing sequence of three interruptions on one day: MAIFI counts 3, MAIFIe 1.
            try await outage("M1", customers: 1...100, start: "2025-04-05T12:00:00Z", minutes: 1, momentary: true,
                             interruptions: 3, client)
            let result = try await indices(from: "2025-04-01T00:00:00Z", to: "2025-05-01T00:00:00Z", client)
            // ln: five 0s, four 0.693147, one 3.912023: α = 0.668461, β (sample) = 1.190580; exp(α + 2.5β) = 38.28.
            #expect(((result.t_med ?? 0) * 100).rounded() / 100 == 38.28)
            #expect(result.major_event_days == ["2025-04-10"])
            #expect(result.saidi == 63)
            #expect(result.saidi_excluding_med == 13)
            #expect(result.maifi == 3)
            #expect(result.maifie == 1)
        }
    }
}
