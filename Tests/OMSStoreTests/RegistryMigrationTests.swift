import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Rows put straight into the tables `oms_migrate_registry()` reads.
struct RegistrySources {
    let client: PostgresClient

    /// An existing registry meter.
    func registry(_ number: String, onuID: String? = nil, serial: String? = nil, asset: String? = nil,
                  usagePoint: String? = nil) async throws {
        try await client.execute(
            """
            INSERT INTO oms_meters (meter_number, onu_id, onu_serial_no, asset_mrid, usage_point_mrid)
            VALUES (\(number), \(onuID), \(serial), \(asset), \(usagePoint))
            """)
    }

    /// A row an integrator staged (ONU inventory, CIS export).
    func staged(_ source: String, number: String? = nil, onuID: String? = nil, serial: String? = nil,
                asset: String? = nil, usagePoint: String? = nil, customer: String? = nil,
                lat: Double? = nil, lng: Double? = nil) async throws {
        try await client.execute(
            """
            INSERT INTO oms_registry_sources (source, meter_number, onu_id, onu_serial, asset_mrid, usage_point_mrid,
                                              customer_ref, location_lat, location_lng)
            VALUES (\(source), \(number), \(onuID), \(serial), \(asset), \(usagePoint), \(customer), \(lat), \(lng))
            """)
    }

    /// A head-end event naming a meter.
    func kaifa(number: String? = nil, asset: String? = nil, usagePoint: String? = nil) async throws {
        try await client.execute(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, meter_number, asset_mrid, usage_point_mrid,
                                      event_timestamp, raw)
            VALUES (\(UUID().uuidString), '3.26.0.47', \(number), \(asset), \(usagePoint), now(), '{}')
            """)
    }

    /// A call-center ticket with the meter number as the customer typed it.
    func ticket(_ number: String, customer: String? = nil) async throws {
        try await client.execute(
            """
            INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, customer_ref, raw)
            VALUES (\(UUID().uuidString), now(), \(number), \(customer), '{}')
            """)
    }

    /// An ONU alarm (no meter number: the ONU message carries none).
    func onu(id: String?, serial: String?) async throws {
        try await client.execute(
            """
            INSERT INTO onu_events (source_event_id, event_type, onu_id, onu_serial, event_timestamp, raw)
            VALUES (\(UUID().uuidString), 'ONU_LastGaspAlert', \(id), \(serial), now(), '{}')
            """)
    }
}

/// A registry meter's identities, as one comparable value.
struct MeterIdentities: Equatable, CustomStringConvertible {
    var onuID: String?
    var serial: String?
    var asset: String?
    var usagePoint: String?
    var customer: String?

    var description: String {
        [onuID, serial, asset, usagePoint, customer].map { $0 ?? "-" }.joined(separator: " ")
    }
}

@Suite("Registry migration: merging duplicates from the feed tables, survivors, conflicts", .serialized)
struct RegistryMigrationTests {
    func migrate(_ client: PostgresClient, dryRun: Bool = false) async throws -> RegistryMigrationReport {
        try await RegistryMigration(client: client, logger: TestDatabase.logger).run(dryRun: dryRun)
    }

    func meter(_ number: String, _ client: PostgresClient) async throws -> MeterIdentities? {
        let rows = try await client.fetch(
            """
            SELECT m.onu_id, m.onu_serial_no, m.asset_mrid, m.usage_point_mrid, c.customer_id
              FROM oms_meters m LEFT JOIN oms_customers c ON c.id = m.customer_id
             WHERE m.meter_number = \(number)
            """, logger: TestDatabase.logger)
        for (onu, serial, asset, point, customer) in try rows.decode(
            (String?, String?, String?, String?, String?).self)
        {
            return MeterIdentities(onuID: onu, serial: serial, asset: asset, usagePoint: point, customer: customer)
        }
        return nil
    }

    func meterNumbers(_ client: PostgresClient) async throws -> [String] {
        let text = try await client.scalar(
            "SELECT coalesce(string_agg(meter_number, ',' ORDER BY meter_number COLLATE \"C\"), '') FROM oms_meters",
            as: String.self)
        return text.isEmpty ? [] : text.split(separator: ",").map(String.init)
    }

    /// Every column of every meter, as one hash: equal hashes, nothing written.
    func registryHash(_ client: PostgresClient) async throws -> String {
        try await client.scalar("SELECT md5(coalesce(string_agg(m::text, '|' ORDER BY m.id), '')) FROM oms_meters m",
                                as: String.self)
    }

    @Test("rule 1, the same number: \"m-001 \", \"M001\" and \"M 0001\" are one meter, spelled as the most trusted source spells it")
    func sameNumber() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.ticket("m-001 ")
            try await sources.staged("cis", number: "M001")
            try await sources.kaifa(number: "M 0001", asset: "A1")
            let report = try await migrate(client)
            #expect(report.metersInserted == 1)
            #expect(report.mergedGroups == 1)
            #expect(try await meterNumbers(client) == ["M001"])
            #expect(try await meter("M001", client) == MeterIdentities(asset: "A1"))
            let group = try #require(report.merges.first)
            #expect(group.action == "inserted")
            #expect(group.survivor.source == "cis")
            #expect(group.members.map(\.source) == ["cis", "kaifa", "call_center"])
            #expect(group.members.map(\.meterNumber) == ["M001", "M 0001", "m-001"])

            // Leading zeros count as the call center counts them (call_center.strip_leading_zeros):
            // without stripping, M1 is another meter, and "M 0001" (key M0001) stays with M001 only
            // through its asset: two numbers for one meter, a conflict.
            try await client.execute("UPDATE oms_settings SET value = 'false' WHERE key = 'call_center.strip_leading_zeros'")
            try await sources.ticket("M1")
            let strict = try await migrate(client)
            #expect(strict.metersInserted == 1)
            #expect(try await meterNumbers(client) == ["M001", "M1"])
            let numbers = try #require(strict.conflictDetails.first)
            #expect(numbers.field == "meter_number")
            #expect(numbers.keptValue == "M001")
            #expect(numbers.values == [.init(value: "M 0001", sources: ["kaifa"]),
                                       .init(value: "M001", sources: ["call_center", "cis", "registry"])])
        }
    }

    @Test("rule 2, the same ONU serial: an ONU event completes its meter; a serial of two meters links nothing")
    func sameSerial() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.staged("onu_inventory", number: "M200", serial: "HWTC000000C8")
            try await sources.onu(id: "ONU-200", serial: "hwtc000000c8")
            // One ONU serving two meters (0003 allows it): its serial is a fact of both, not a link.
            try await sources.staged("onu_inventory", number: "M201", serial: "ZTEG000000C9")
            try await sources.staged("onu_inventory", number: "M202", serial: "ZTEG000000C9")
            try await sources.onu(id: "ONU-9", serial: "ZTEG000000C9")
            // An ONU no meter carries.
            try await sources.onu(id: "ONU-X", serial: "ALCL00000001")
            let report = try await migrate(client)
            #expect(try await meter("M200", client) == MeterIdentities(onuID: "ONU-200", serial: "HWTC000000C8"))
            #expect(try await meter("M201", client) == MeterIdentities(serial: "ZTEG000000C9"))
            #expect(try await meter("M202", client) == MeterIdentities(serial: "ZTEG000000C9"))
            #expect(report.sharedONUSerials == 1)
            #expect(report.unplacedRecords == ["onu_events": 2])
            #expect(report.merges.map(\.meterNumber) == ["M200"])
            #expect(report.merges.first?.members.map(\.source) == ["onu_inventory", "onu"])
            #expect(report.conflicts == 0)
        }
    }

    @Test("rule 3, the same asset mRID: a head-end event without a number completes the meter of its asset")
    func sameAsset() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.staged("cis", number: "M300", asset: "A300")
            try await sources.kaifa(asset: "A300", usagePoint: "UP300")
            try await sources.kaifa(asset: "A300", usagePoint: "UP300")
            // An asset nothing else names, without a number: not a meter.
            try await sources.kaifa(asset: "A999")
            let report = try await migrate(client)
            #expect(try await meterNumbers(client) == ["M300"])
            #expect(try await meter("M300", client) == MeterIdentities(asset: "A300", usagePoint: "UP300"))
            #expect(report.rowsRead["kaifa_events"] == 3)
            #expect(report.unplacedRecords == ["kaifa_events": 1])
            #expect(report.merges.first?.members.last?.rows == 2)
        }
    }

    @Test("a chain joins two groups: number -> asset -> serial -> ONU event, in a few passes")
    func chain() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.ticket("M400")
            try await sources.kaifa(number: "m400", asset: "A400")
            try await sources.staged("onu_inventory", serial: "HWTC00000190", asset: "A400")
            try await sources.onu(id: "ONU-400", serial: "HWTC00000190")
            // A longer chain: six groups, each linked to the next by an asset or a serial.
            for index in 1...6 {
                try await sources.staged("cis", number: "C\(index)", asset: "CA\(index)")
                try await sources.staged("cis", serial: String(format: "HWTC%08X", 0x1000 + index), asset: "CA\(index)")
                if index < 6 {
                    try await sources.staged("onu_inventory", serial: String(format: "HWTC%08X", 0x1000 + index),
                                             asset: "CA\(index + 1)")
                }
            }
            let report = try await migrate(client)
            #expect(try await meter("m400", client)
                    == MeterIdentities(onuID: "ONU-400", serial: "HWTC00000190", asset: "A400"))
            let chain = try #require(report.merges.first { $0.meterNumber == "m400" })
            #expect(chain.members.count == 4)
            #expect(chain.survivor.source == "kaifa")
            // The six C groups are one group: one meter (C1, the lowest number), five numbers in conflict.
            #expect(try await meterNumbers(client) == ["C1", "m400"])
            let numbers = try #require(report.conflictDetails.first { $0.meterNumber == "C1" && $0.field == "meter_number" })
            #expect(numbers.values.map(\.value) == ["C1", "C2", "C3", "C4", "C5", "C6"])
            #expect(numbers.keptValue == "C1")
            // 17 linked groups in a row: pointer jumping keeps the passes near log2(17) + 1.
            #expect(report.labelPasses >= 2 && report.labelPasses <= 7)
        }
    }

    @Test("the survivor: an existing registry meter, else the most trusted source, else the lowest number")
    func survivor() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M-500")
            try await sources.staged("cis", number: "M500", asset: "A500")
            try await sources.ticket("M600")
            try await sources.kaifa(number: "m600")
            try await sources.staged("cis", number: "M700")
            try await sources.staged("onu_inventory", number: "M-700")
            let report = try await migrate(client)
            #expect(try await meterNumbers(client) == ["M-500", "M-700", "m600"])
            #expect(try await meter("M-500", client) == MeterIdentities(asset: "A500"))
            let actions = Dictionary(uniqueKeysWithValues: report.merges.map { ($0.meterNumber, $0.action) })
            #expect(actions == ["M-500": "updated", "m600": "inserted", "M-700": "inserted"])
            #expect(report.merges.first { $0.meterNumber == "M-700" }?.survivor.source == "onu_inventory")
        }
    }

    @Test("a conflict is reported with its values and sources; nothing is overwritten or guessed")
    func conflicts() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M900", onuID: "ONU-900")
            try await sources.staged("onu_inventory", number: "M900", onuID: "ONU-999", serial: "HWTC00000384")
            try await sources.staged("cis", number: "M901", usagePoint: "UP1")
            try await sources.kaifa(number: "M901", asset: "A901", usagePoint: "UP2")
            let report = try await migrate(client)
            // The registry keeps its ONU id; the agreed serial is filled.
            #expect(try await meter("M900", client) == MeterIdentities(onuID: "ONU-900", serial: "HWTC00000384"))
            // A new meter is created without the fact its sources disagree on.
            #expect(try await meter("M901", client) == MeterIdentities(asset: "A901"))
            #expect(report.conflicts == 2)
            let onu = try #require(report.conflictDetails.first { $0.meterNumber == "M900" })
            #expect(onu.field == "onu_id")
            #expect(onu.keptValue == "ONU-900")
            #expect(onu.values == [.init(value: "ONU-900", sources: ["registry"]), .init(value: "ONU-999", sources: ["onu_inventory"])])
            let point = try #require(report.conflictDetails.first { $0.meterNumber == "M901" })
            #expect(point.field == "usage_point_mrid")
            #expect(point.keptValue == nil)
            #expect(point.values.map(\.value) == ["UP1", "UP2"])
            // Kept for oms validate: the latest run's conflicts.
            #expect(try await client.scalar(
                "SELECT string_agg(meter_number || ':' || field, ',' ORDER BY meter_number) FROM oms_registry_open_conflicts",
                as: String.self) == "M900:onu_id,M901:usage_point_mrid")
        }
    }

    @Test("on the sample network: nothing to merge alone; feeds and a CIS export enrich meters, keeping topology and state")
    func existingRegistry() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let alone = try await migrate(client, dryRun: true)
            #expect(alone.metersInserted == 0 && alone.metersUpdated == 0 && alone.mergedGroups == 0 && alone.conflicts == 0)
            // The sample's shared ONUs (every 50th premise) are shared serials, not duplicates.
            #expect(alone.sharedONUSerials == 54)

            let before = try await client.scalar(
                """
                SELECT meter_number || ' ' || dp_id || ' ' || power_status || ' ' || communication_status
                  FROM oms_meters WHERE meter_number = 'M10000005'
                """, as: String.self)
            let sources = RegistrySources(client: client)
            // n = 5: no ONU and no asset in the sample.
            try await sources.kaifa(number: "m1000 0005", asset: "NEW-A5")
            try await sources.staged("cis", number: "M10000005", customer: "C0000005", lat: 39.95, lng: -75.16)
            // n = 6 has an asset: a different one is a conflict, not an overwrite.
            try await sources.kaifa(number: "M10000006", asset: "OTHER-A6")
            try await sources.staged("cis", number: "M10000007", customer: "C9999999")
            let report = try await migrate(client)
            #expect(report.metersInserted == 0)
            #expect(report.metersUpdated == 1)
            #expect(report.metersUnchanged == SampleNetwork.meterCount - 1)
            #expect(report.unknownCustomers == 1)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == SampleNetwork.meterCount)
            #expect(try await meter("M10000005", client)?.asset == "NEW-A5")
            #expect(try await meter("M10000005", client)?.customer == "C0000005")
            let after = try await client.scalar(
                """
                SELECT meter_number || ' ' || dp_id || ' ' || power_status || ' ' || communication_status
                  FROM oms_meters WHERE meter_number = 'M10000005'
                """, as: String.self)
            #expect(after == before)
            // The sample's location of M10000005 is kept; the CIS row's differs: a conflict.
            let fields = report.conflictDetails.map { "\($0.meterNumber):\($0.field)" }.sorted()
            #expect(fields == ["M10000005:location", "M10000006:asset_mrid"])
            #expect(try await meter("M10000006", client)?.asset == (try await client.scalar(
                "SELECT md5('asset' || 6)::uuid::text", as: String.self)))
        }
    }

    @Test("a second run changes nothing and reports what the sources still hold")
    func idempotent() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M-100")
            try await sources.kaifa(number: "M100", asset: "A100")
            try await sources.staged("cis", number: "M001")
            try await sources.ticket("m-001")
            try await sources.staged("onu_inventory", number: "M200", serial: "HWTC000000C8")
            try await sources.onu(id: "ONU-200", serial: "HWTC000000C8")
            try await sources.registry("M500", onuID: "ONU-500")
            try await sources.staged("onu_inventory", number: "M500", onuID: "ONU-999")
            let first = try await migrate(client)
            #expect(first.metersInserted == 2 && first.metersUpdated == 1)
            let hash = try await registryHash(client)

            let second = try await migrate(client)
            #expect(second.metersInserted == 0 && second.metersUpdated == 0)
            #expect(second.metersUnchanged == 4)
            #expect(try await registryHash(client) == hash)
            // Other spellings and the conflict are still there; the completed M200 is not reported again.
            #expect(second.merges.map(\.meterNumber) == ["M-100", "M001", "M500"])
            #expect(second.merges.allSatisfy { $0.action == "unchanged" })
            #expect(second.conflicts == 1)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_migration_runs", as: Int.self) == 2)
        }
    }

    @Test("two registry meters of one group are duplicates left: both stay, both are named")
    func duplicatesLeft() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M1000")
            try await sources.registry("M-1000", asset: "A1000")
            try await sources.ticket("m 1000")
            let report = try await migrate(client)
            #expect(report.duplicatesLeft == 1)
            #expect(try await meterNumbers(client) == ["M-1000", "M1000"])
            let group = try #require(report.merges.first)
            #expect(group.meterNumber == "M-1000")
            #expect(group.duplicateMeterIDs.count == 1)
            // The asset stays with its meter; nothing moves between duplicates.
            #expect(try await meter("M1000", client) == MeterIdentities())
            #expect(try await client.scalar(
                "SELECT meter_number || '<' || duplicate_meter_number FROM oms_registry_duplicates_left",
                as: String.self) == "M-1000<M1000")
        }
    }

    @Test("a dry run reports what a run does and writes nothing")
    func dryRun() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M-100")
            try await sources.kaifa(number: "M100", asset: "A100")
            try await sources.staged("cis", number: "M001")
            try await sources.ticket("m-001")
            let hash = try await registryHash(client)
            let dry = try await migrate(client, dryRun: true)
            #expect(dry.runID == nil)
            #expect(try await registryHash(client) == hash)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_migration_runs", as: Int.self) == 0)
            #expect(dry.merges.first { $0.action == "inserted" }?.meterID == nil)
            let real = try await migrate(client)
            #expect(real.runID != nil)
            #expect(real.metersInserted == dry.metersInserted && real.metersUpdated == dry.metersUpdated)
            #expect(real.merges.map(\.meterNumber) == dry.merges.map(\.meterNumber))
        }
    }

    @Test("one transaction: when a write fails, nothing of the run is written")
    func atomic() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let sources = RegistrySources(client: client)
            try await sources.registry("M-100")
            try await sources.kaifa(number: "M100", asset: "A100")
            try await sources.staged("cis", number: "M001")
            try await sources.ticket("FAIL")
            // A registry rule of this database refuses one of the new meters (after the update was made).
            try await client.execute(
                """
                CREATE FUNCTION test_refuse_fail() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.meter_number = 'FAIL' THEN RAISE EXCEPTION 'refused by test'; END IF;
                    RETURN NEW;
                END $$
                """)
            try await client.execute(
                "CREATE TRIGGER test_refuse_fail BEFORE INSERT ON oms_meters FOR EACH ROW EXECUTE FUNCTION test_refuse_fail()")
            let hash = try await registryHash(client)
            await #expect(throws: PSQLError.self) { _ = try await migrate(client) }
            #expect(try await registryHash(client) == hash)
            #expect(try await meter("M-100", client) == MeterIdentities())
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_migration_runs", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_merges", as: Int.self) == 0)
        }
    }

    @Test("a staged row that cannot be placed is refused naming its column (SQLSTATE 22023)", arguments: [
        ("INSERT INTO oms_registry_sources (source, meter_number) VALUES ('  ', 'M1')", "source"),
        ("INSERT INTO oms_registry_sources (source, meter_number) VALUES ('onu', 'M1')", "source"),
        ("INSERT INTO oms_registry_sources (source, onu_id) VALUES ('onu_inventory', 'ONU-1')", "meter_number"),
        ("INSERT INTO oms_registry_sources (source, meter_number) VALUES ('cis', ' -- ')", "meter_number"),
        ("INSERT INTO oms_registry_sources (source, onu_serial) VALUES ('onu_inventory', 'HWTC1234')", "onu_serial"),
        ("INSERT INTO oms_registry_sources (source, meter_number, location_lat) VALUES ('cis', 'M1', 40)", "location_lng"),
        ("INSERT INTO oms_registry_sources (source, meter_number, location_lat, location_lng) VALUES ('cis', 'M1', 91, 0)",
         "location_lat"),
        ("SELECT oms_migrate_registry(false, -1)", "report_limit"),
    ])
    func refusals(statement: String, column: String) async throws {
        try await TestDatabase.with(.migrated) { database in
            do {
                try await database.client.execute(PostgresQuery(unsafeSQL: statement))
                Issue.record("accepted: \(statement)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.sqlState] == "22023")
                #expect(error.serverInfo?[.columnName] == column)
            }
        }
    }

    @Test("staged rows are tidied: trimmed, blanks are absent, serials upper-cased")
    func tidied() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await client.execute(
                """
                INSERT INTO oms_registry_sources (source, meter_number, onu_id, onu_serial, asset_mrid)
                VALUES (' cis ', ' M1 ', '', ' hwtc0000000a ', ' ')
                """)
            #expect(try await client.scalar(
                """
                SELECT source || '|' || meter_number || '|' || coalesce(onu_id, '-') || '|' || onu_serial || '|'
                       || coalesce(asset_mrid, '-') FROM oms_registry_sources
                """, as: String.self) == "cis|M1|-|HWTC0000000A|-")
        }
    }
}
