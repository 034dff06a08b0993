import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("The database enforces the states")
struct ConstraintTests {
    /// SQLSTATE 23514: check_violation.
    static let checkViolation = "23514"

    func expectRejected(_ sql: PostgresQuery, state: String = checkViolation, on client: PostgresClient) async {
        await #expect {
            try await client.execute(sql)
        } throws: { error in
            error.databaseSQLState == state
        }
    }

    @Test("meter states: on/off/unknown and online/offline/unknown, both default unknown")
    func meterStates() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await client.execute("INSERT INTO oms_meters (meter_number) VALUES ('M-DEFAULTS')")
            let defaults = try await client.scalar(
                "SELECT power_status || '/' || communication_status || '/' || status FROM oms_meters WHERE meter_number = 'M-DEFAULTS'",
                as: String.self)
            #expect(defaults == "unknown/unknown/active")

            for power in PowerStatus.allCases {
                try await client.execute("UPDATE oms_meters SET power_status = \(power.rawValue) WHERE meter_number = 'M-DEFAULTS'")
            }
            for communication in CommunicationStatus.allCases {
                try await client.execute(
                    "UPDATE oms_meters SET communication_status = \(communication.rawValue) WHERE meter_number = 'M-DEFAULTS'")
            }
            await expectRejected("UPDATE oms_meters SET power_status = 'ON'", on: client)
            await expectRejected("UPDATE oms_meters SET power_status = 'online'", on: client)
            await expectRejected("UPDATE oms_meters SET communication_status = 'off'", on: client)
            await expectRejected("UPDATE oms_meters SET status = 'retired'", on: client)
            await expectRejected("INSERT INTO oms_meters (meter_number) VALUES ('  ')", on: client)
            await expectRejected("INSERT INTO oms_meters (meter_number, location_lat) VALUES ('M-LAT', 95)", on: client)
            await expectRejected(
                "INSERT INTO oms_meters (meter_number) VALUES ('M-DEFAULTS')", state: "23505", on: client)
        }
    }

    @Test("audit rows: sources, statuses and confidence are checked")
    func auditTrail() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            for source in SourceType.allCases {
                try await client.execute(
                    """
                    INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, new_status)
                    SELECT id, 'test', \(source.rawValue), 'off' FROM oms_meters WHERE meter_number = 'M12345678'
                    """)
            }
            let insert = { (source: String, field: String, status: String, confidence: Double) -> PostgresQuery in
                """
                INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, status_field, new_status, confidence_score)
                SELECT id, 'test', \(source), \(field), \(status), \(confidence) FROM oms_meters WHERE meter_number = 'M12345678'
                """
            }
            await expectRejected(insert("sms", "power_status", "off", 0.5), on: client)
            await expectRejected(insert("onu", "power_status", "online", 0.5), on: client)
            await expectRejected(insert("onu", "communication_status", "off", 0.5), on: client)
            await expectRejected(insert("onu", "power_status", "off", 1.5), on: client)
            try await client.execute(insert("kaifa", "communication_status", "offline", 1.0))
        }
    }

    @Test("outages: statuses, severities, evidence sources and one row per piece of evidence")
    func outages() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            for (index, status) in OutageStatus.allCases.enumerated() where status != .merged {
                try await client.execute(
                    "INSERT INTO oms_outage_events (event_id, status) VALUES (\("OMS_T_\(index)"), \(status.rawValue))")
            }
            // A merged outage names the outage it was merged into, and only a merged one does.
            try await client.execute("""
                INSERT INTO oms_outage_events (event_id, status, merged_into_id)
                SELECT 'OMS_T_M', \(OutageStatus.merged.rawValue), id FROM oms_outage_events WHERE event_id = 'OMS_T_0'
                """)
            await expectRejected("INSERT INTO oms_outage_events (event_id, status) VALUES ('X0', 'merged')", on: client)
            await expectRejected("""
                INSERT INTO oms_outage_events (event_id, status, merged_into_id)
                SELECT 'X00', 'confirmed', id FROM oms_outage_events WHERE event_id = 'OMS_T_0'
                """, on: client)
            await expectRejected("INSERT INTO oms_outage_events (event_id, status) VALUES ('X1', 'open')", on: client)
            await expectRejected("INSERT INTO oms_outage_events (event_id, severity) VALUES ('X2', 'huge')", on: client)
            await expectRejected(
                "INSERT INTO oms_outage_events (event_id, confidence_score) VALUES ('X3', -0.1)", on: client)

            let outage = "(SELECT id FROM oms_outage_events WHERE event_id = 'OMS_T_0')"
            for source in SourceType.feeds {
                try await client.execute(PostgresQuery(unsafeSQL:
                    "INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id) VALUES (\(outage), '\(source.rawValue)', 'E1')"))
            }
            await expectRejected(PostgresQuery(unsafeSQL:
                "INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id) VALUES (\(outage), 'manual', 'E1')"),
                on: client)
            await expectRejected(PostgresQuery(unsafeSQL:
                "INSERT INTO oms_event_sources (outage_event_id, source_type, source_event_id) VALUES (\(outage), 'onu', 'E1')"),
                state: "23505", on: client)
        }
    }

    @Test("a feed's own event id is stored once")
    func feedEventsUnique() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let scada: PostgresQuery = """
                INSERT INTO scada_events (source_event_id, event_type, event_timestamp, raw)
                VALUES ('SCADA-1', 'breaker_trip', now(), '{}')
                """
            try await client.execute(scada)
            await expectRejected(scada, state: "23505", on: client)
            let onu: PostgresQuery = """
                INSERT INTO onu_events (source_event_id, event_type, onu_serial, event_timestamp, raw)
                VALUES ('ONU-1', 'ONU_LastGaspAlert', 'HWTC1A2B3C4D', now(), '{}')
                """
            try await client.execute(onu)
            await expectRejected(onu, state: "23505", on: client)
            // The same id with an event of another month (another partition): still one event (oms_feed_event_ids).
            await expectRejected("""
                INSERT INTO onu_events (source_event_id, event_type, onu_serial, event_timestamp, raw)
                VALUES ('ONU-1', 'ONU_LastGaspAlert', 'HWTC1A2B3C4D', now() - interval '40 days', '{}')
                """, state: "23505", on: client)
            #expect(try await client.scalar("SELECT count(*)::int FROM onu_events WHERE source_event_id = 'ONU-1'", as: Int.self) == 1)
            await expectRejected(
                "INSERT INTO onu_events (event_type, event_timestamp, raw) VALUES ('ONU_LastGaspAlert', now(), '{}')",
                on: client)
            let ticket: PostgresQuery = """
                INSERT INTO callcenter_tickets (ticket_id, event_timestamp, raw) VALUES ('T-1', now(), '{}')
                """
            try await client.execute(ticket)
            await expectRejected(ticket, state: "23505", on: client)
        }
    }
}
