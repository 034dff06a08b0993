import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The seed README's SQL, verbatim: its "Common Queries", "Useful Views",
/// "Run Validation Query" and the read-only queries of its "Testing" section.
/// Run through psql, as a user holding that document would.
enum SeedSQL {
    static let offlineMetersBySubstation = """
        SELECT 
            m.meter_number,
            m.power_status,
            m.last_communication,
            c.phone as customer_phone,
            ns.name as substation_name
        FROM oms_meters m
        JOIN network_substation_meters nsm ON m.id = nsm.meter_id
        JOIN network_substations ns ON nsm.substation_id = ns.id
        LEFT JOIN oms_customers c ON m.customer_id = c.id
        WHERE ns.substation_id = 'SS001'
        AND (m.power_status = 'off' OR m.communication_status = 'offline')
        ORDER BY nsm.priority ASC;
        """

    static let scadaEventsWithMeterImpact = """
        SELECT 
            se.substation_id,
            se.feeder_id,
            se.event_timestamp,
            se.affected_meter_count,
            oe.event_id as outage_event_id,
            oe.affected_customers_count
        FROM scada_events se
        LEFT JOIN oms_outage_events oe ON se.outage_event_id = oe.id
        WHERE se.event_timestamp >= NOW() - INTERVAL '24 hours'
        AND se.affected_meter_count > 0
        ORDER BY se.event_timestamp DESC;
        """

    static let meterStatusHistory = """
        SELECT 
            mse.event_timestamp,
            mse.event_type,
            mse.source_type,
            mse.previous_status || ' → ' || mse.new_status as status_change,
            mse.confidence_score
        FROM oms_meter_status_events mse
        JOIN oms_meters m ON mse.meter_id = m.id
        WHERE m.meter_number = 'M12345678'
        ORDER BY mse.event_timestamp DESC
        LIMIT 20;
        """

    static let substationsWithMeters = "SELECT * FROM network_substations_with_meters;"

    static let metersWithTopologyOff = """
        SELECT * FROM oms_meters_with_topology
        WHERE power_status = 'off';
        """

    static let activeOutages = "SELECT * FROM oms_active_outages;"

    static let validationQuery = """
        -- Should show summary of meters by source
        SELECT 
            COUNT(*) as total_meters,
            COUNT(CASE WHEN onu_id IS NOT NULL THEN 1 END) as from_onu,
            COUNT(CASE WHEN asset_mrid IS NOT NULL THEN 1 END) as from_kaifa,
            COUNT(CASE WHEN substation_id IS NOT NULL THEN 1 END) as linked_to_substation,
            COUNT(CASE WHEN customer_id IS NOT NULL THEN 1 END) as linked_to_customer
        FROM oms_meters
        WHERE status = 'active';
        """

    static let testingOutageBySubstation = "SELECT * FROM oms_outage_events WHERE root_cause LIKE '%SS001%';"
    static let testingAffectedMeterCount = "SELECT COUNT(*) FROM scada_event_affected_meters;"
    static let testingStatusBySubstation = """
        SELECT power_status, COUNT(*) 
        FROM oms_meters 
        WHERE substation_id = (SELECT id FROM network_substations WHERE substation_id = 'SS001')
        GROUP BY power_status;
        """

    /// Each query with the columns it must return.
    static let all: [(name: String, sql: String, columns: [String])] = [
        ("offline meters by substation", offlineMetersBySubstation,
         ["meter_number", "power_status", "last_communication", "customer_phone", "substation_name"]),
        ("SCADA events with meter impact", scadaEventsWithMeterImpact,
         ["substation_id", "feeder_id", "event_timestamp", "affected_meter_count", "outage_event_id",
          "affected_customers_count"]),
        ("meter status history", meterStatusHistory,
         ["event_timestamp", "event_type", "source_type", "status_change", "confidence_score"]),
        ("substations with meters", substationsWithMeters,
         ["substation_id", "name", "total_meters", "online_meters", "offline_meters", "unknown_meters"]),
        ("meters with topology", metersWithTopologyOff,
         ["meter_number", "power_status", "communication_status", "customer_name", "customer_phone",
          "substation_code", "substation_name", "feeder_code", "feeder_name", "dp_code", "dp_name"]),
        ("active outages", activeOutages,
         ["event_id", "status", "confidence_score", "affected_customers_count", "substation_name", "feeder_name",
          "source_count", "scada_sources", "onu_sources", "kaifa_sources", "call_center_sources"]),
        ("validation query", validationQuery,
         ["total_meters", "from_onu", "from_kaifa", "linked_to_substation", "linked_to_customer"]),
        ("testing: outage by root cause", testingOutageBySubstation,
         ["id", "event_id", "event_type", "status", "severity", "confidence_score", "affected_customers_count",
          "affected_meters_count", "root_cause", "description", "substation_id", "feeder_id", "dp_id",
          "event_latitude", "event_longitude", "first_detected_at", "estimated_restoration_time",
          "actual_restoration_time", "last_updated_at", "created_at"]),
        ("testing: affected meter count", testingAffectedMeterCount, ["count"]),
        ("testing: status by substation", testingStatusBySubstation, ["power_status", "count"]),
    ]
}

@Suite("The seed README's SQL runs verbatim")
struct SeedContractTests {
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
