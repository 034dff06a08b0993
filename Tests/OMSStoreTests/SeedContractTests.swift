import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The seed README's SQL, verbatim: its "Common Queries", "Useful Views", "Run Validation Query" and
/// the read-only queries of its "Testing" section, as `docs/sql-contract.md` states them (each example
/// under "## Example queries": a `### name`, the query in a sql block, then `columns:` it must return).
/// Run through psql, as a user holding that document would.
enum SeedSQL {
    /// One example of the contract.
    struct Example: Sendable {
        var name: String
        var sql: String
        var columns: [String]
    }

    /// Every example of `docs/sql-contract.md`, in its order.
    static let all: [Example] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/sql-contract.md").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let section = text.components(separatedBy: "## Example queries").dropFirst().first?
                .components(separatedBy: "\n## ").first else { return [] }
        var examples: [Example] = []
        for block in section.components(separatedBy: "\n### ").dropFirst() {
            let name = String(block.prefix { $0 != "\n" }).lowercased()
            guard let open = block.range(of: "```sql\n"), let close = block.range(of: "\n```", range: open.upperBound..<block.endIndex),
                  let columnsLine = block[close.upperBound...].split(separator: "\n").first(where: { $0.hasPrefix("columns: ") })
            else { continue }
            let columns = columnsLine.dropFirst("columns: ".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            examples.append(Example(name: name, sql: String(block[open.upperBound..<close.lowerBound]), columns: columns))
        }
        return examples
    }()

    /// The example of this name (the heading, lower case).
    static func sql(_ name: String) -> String { all.first { $0.name == name }?.sql ?? "SELECT 'no example named \(name)'" }

    static var offlineMetersBySubstation: String { sql("offline meters by substation") }
    static var scadaEventsWithMeterImpact: String { sql("scada events with meter impact") }
    static var meterStatusHistory: String { sql("meter status history") }
    static var substationsWithMeters: String { sql("substations with meters") }
    static var metersWithTopologyOff: String { sql("meters with topology") }
    static var activeOutages: String { sql("active outages") }
    static var validationQuery: String { sql("validation query") }
    static var testingOutageBySubstation: String { sql("testing: outage by root cause") }
    static var testingAffectedMeterCount: String { sql("testing: affected meter count") }
    static var testingStatusBySubstation: String { sql("testing: status by substation") }
}

@Suite("The seed README's SQL runs verbatim")
struct SeedContractTests {
    @Test("docs/sql-contract.md states the seed's ten example queries, each with its columns")
    func contractHasEveryExample() {
        #expect(SeedSQL.all.count == 10, "\(SeedSQL.all.map(\.name))")
        #expect(SeedSQL.all.allSatisfy { !$0.columns.isEmpty && $0.sql.uppercased().contains("SELECT") })
    }

    @Test("every example answers with its columns on an empty database", arguments: SeedSQL.all.map(\.name))
    func onEmptyDatabase(name: String) async throws {
        let example = try #require(SeedSQL.all.first { $0.name == name })
        try await TestDatabase.with(.migrated) { database in
            let result = try await database.psql(example.sql)
            for column in example.columns {
                #expect(result.columns.contains(column), "\(name): column \(column) missing from \(result.columns)")
            }
        }
    }

    @Test("every example answers with its columns on the sample network", arguments: SeedSQL.all.map(\.name))
    func onSampleNetwork(name: String) async throws {
        let example = try #require(SeedSQL.all.first { $0.name == name })
        try await TestDatabase.with(.sampleNetwork) { database in
            let result = try await database.psql(example.sql)
            for column in example.columns {
                #expect(result.columns.contains(column), "\(name): column \(column) missing from \(result.columns)")
            }
        }
    }

    /// Sample meter n (1...2700): SS001 holds n 1...900; off when n % 37 == 0,
    /// never heard from when n % 41 == 0, communication offline when n % 43 == 0.
    static let ss001 = 1...900

    @Test("offline meters by substation: exactly SS001's meters without power or communication")
    func offlineMeters() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let result = try await database.psql(SeedSQL.offlineMetersBySubstation)
            let expected = Self.ss001.filter { $0 % 37 == 0 || $0 % 43 == 0 }.count
            #expect(result.rows.count == expected)
            #expect(Set(result.column("substation_name")) == ["Riverside"])
            #expect(result.column("customer_phone").allSatisfy { $0?.hasPrefix("+1-215-555-") == true })
        }
    }

    @Test("views count the sample network's meters")
    func views() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let substations = try await database.psql(SeedSQL.substationsWithMeters)
            #expect(substations.rows.count == 3)
            #expect(Set(substations.column("total_meters")) == ["900"])
            let row = try #require(substations.rows.first { $0[substations.columns.firstIndex(of: "substation_id")!] == "SS001" })
            let value = { (column: String) in row[substations.columns.firstIndex(of: column)!] }
            let offline = Self.ss001.filter { $0 % 37 == 0 || $0 % 43 == 0 }.count
            let unknown = Self.ss001.filter { $0 % 41 == 0 && $0 % 37 != 0 && $0 % 43 != 0 }.count
            #expect(value("offline_meters") == "\(offline)")
            #expect(value("unknown_meters") == "\(unknown)")
            #expect(value("online_meters") == "\(900 - offline - unknown)")

            let off = try await database.psql(SeedSQL.metersWithTopologyOff)
            #expect(off.rows.count == (1...2700).filter { $0 % 37 == 0 }.count)
            #expect(off.column("substation_name").allSatisfy { $0 != nil })
            #expect(off.column("dp_code").allSatisfy { $0?.contains("-DP") == true })
        }
    }

    @Test("meter status history: newest first, as 'before → after'")
    func history() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let result = try await database.psql(SeedSQL.meterStatusHistory)
            #expect(result.column("status_change") == ["off → on", "on → off"])
            #expect(result.column("source_type") == ["kaifa", "onu"])
        }
    }

    @Test("validation query: totals by source")
    func validationQuery() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let result = try await database.psql(SeedSQL.validationQuery)
            #expect(result.rows.count == 1)
            #expect(result.column("total_meters") == ["2700"])
            #expect(result.column("from_onu") == ["\((1...2700).filter { $0 % 5 != 0 }.count)"])
            #expect(result.column("from_kaifa") == ["2160"])
            #expect(result.column("linked_to_substation") == ["2700"])
            #expect(result.column("linked_to_customer") == ["2700"])
        }
    }

    @Test("SCADA impact and active outages join through the outage tables")
    func outageQueries() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await database.client.execute(
                """
                WITH outage AS (
                    INSERT INTO oms_outage_events (event_id, status, confidence_score, affected_customers_count,
                                                   affected_meters_count, root_cause, substation_id, feeder_id)
                    SELECT 'OMS_SCADA_1727686800_a3f8b2c1', 'detected', 0.9, 45, 45, 'Breaker trip at SS001 / FD002',
                           s.id, f.id
                      FROM network_substations s JOIN network_feeders f ON f.substation_id = s.id
                     WHERE s.substation_id = 'SS001' AND f.feeder_id = 'FD002'
                    RETURNING id
                ), event AS (
                    INSERT INTO scada_events (event_type, substation_id, feeder_id, alarm_type, event_timestamp, raw,
                                              outage_event_id, affected_meter_count, meters_checked_at)
                    SELECT 'breaker_trip', 'SS001', 'FD002', 'fault', now() - interval '1 hour', '{}', id, 45, now()
                      FROM outage
                    RETURNING id, outage_event_id
                )
                INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id, source_table)
                SELECT outage_event_id, 'scada', id::text, 'scada_events' FROM event
                """)
            try await database.client.execute(
                """
                INSERT INTO oms_outage_events (event_id, status, root_cause, actual_restoration_time)
                VALUES ('OMS_OLD_RESTORED', 'restored', 'Old fault at SS002', now())
                """)

            let impact = try await database.psql(SeedSQL.scadaEventsWithMeterImpact)
            #expect(impact.column("outage_event_id") == ["OMS_SCADA_1727686800_a3f8b2c1"])
            #expect(impact.column("affected_customers_count") == ["45"])

            let active = try await database.psql(SeedSQL.activeOutages)
            #expect(active.column("event_id") == ["OMS_SCADA_1727686800_a3f8b2c1"])
            #expect(active.column("scada_sources") == ["1"])
            #expect(active.column("source_count") == ["1"])
            #expect(active.column("feeder_code") == ["FD002"])

            let byRootCause = try await database.psql(SeedSQL.testingOutageBySubstation)
            #expect(byRootCause.column("event_id") == ["OMS_SCADA_1727686800_a3f8b2c1"])
        }
    }

    @Test("power status by substation (the seed's Testing step 4)")
    func statusBySubstation() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let result = try await database.psql(SeedSQL.testingStatusBySubstation)
            var counts: [String: String] = [:]
            for row in result.rows { counts[row[0] ?? ""] = row[1] }
            let off = Self.ss001.filter { $0 % 37 == 0 }.count
            let unknown = Self.ss001.filter { $0 % 41 == 0 && $0 % 37 != 0 }.count
            #expect(counts == ["off": "\(off)", "unknown": "\(unknown)", "on": "\(900 - off - unknown)"])
        }
    }
}
