import Foundation
import OMSDomain
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Issue 13, "State stays plausible", through the SQL functions psql users call (migration 0031): settings
/// typed and ranged, event times within a window, late and reused manual changes, SCADA events stored
/// unchecked not locked in as duplicates, refused messages leaving nothing.
@Suite("Plausible input: settings in range, plausible event times, late and repeated writes")
struct PlausibleInputTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    /// The error a statement raised: SQLSTATE, column and message.
    func refusal(_ query: PostgresQuery, on client: PostgresClient) async -> (state: String?, column: String?, message: String)? {
        do {
            try await client.execute(query)
            return nil
        } catch let error as PSQLError {
            return (error.serverInfo?[.sqlState], error.serverInfo?[.columnName], error.serverInfo?[.message] ?? "")
        } catch {
            return (nil, nil, "\(error)")
        }
    }

    func setting(_ key: String, on client: PostgresClient) async throws -> String {
        try await client.scalar("SELECT value::text FROM oms_settings WHERE key = \(key)", as: String.self)
    }

    func count(_ table: String, on client: PostgresClient) async throws -> Int {
        try await client.scalar(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), as: Int.self)
    }

    /// Sets a setting bypassing its check, as a database set up before 0031 could hold it.
    func forceSetting(_ key: String, _ json: String, on client: PostgresClient) async throws {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: TestDatabase.logger)
            try await connection.query("ALTER TABLE oms_settings DISABLE TRIGGER oms_settings_check", logger: TestDatabase.logger)
            try await connection.query("UPDATE oms_settings SET value = \(json)::jsonb WHERE key = \(key)", logger: TestDatabase.logger)
            try await connection.query("ALTER TABLE oms_settings ENABLE TRIGGER oms_settings_check", logger: TestDatabase.logger)
            try await connection.query("COMMIT", logger: TestDatabase.logger)
        }
    }

    // MARK: - Settings

    @Test("a setting out of its type or range is refused by PostgreSQL itself, naming the key and the bound", arguments: [
        ("onu.confidence", "1.5", "onu.confidence must be a number from 0 to 1, not 1.5"),
        ("onu.confidence", "70", "onu.confidence must be a number from 0 to 1, not 70"),
        ("correlation.window_minutes", "1e308", "correlation.window_minutes must be a whole number from 1 to 10080, not 1e308"),
        ("correlation.window_minutes", "2.5", "correlation.window_minutes must be a whole number from 1 to 10080, not 2.5"),
        ("meter.communication_timeout_minutes", "1e300", "meter.communication_timeout_minutes must be a whole number from 1 to 1440, not 1e300"),
        ("correlation.confirm_confidence", "-5", "correlation.confirm_confidence must be a number from 0.001 to 1, not -5"),
        ("correlation.confirm_confidence", "0", "correlation.confirm_confidence must be a number from 0.001 to 1, not 0"),
        ("scada.critical_alarms", #"[1, 2, {"a": null}]"#, "scada.critical_alarms must be a JSON array of 1 to 200 strings, each with a letter or digit"),
        ("scada.critical_alarms", "[]", "scada.critical_alarms must be a JSON array of 1 to 200 strings"),
        ("scada.critical_alarms", #"["fault", " - "]"#, "scada.critical_alarms must be a JSON array of 1 to 200 strings"),
        ("call_center.strip_leading_zeros", #""yes""#, "call_center.strip_leading_zeros must be true or false, not \"yes\""),
        ("proximity.substation_radius_km", "1000", "proximity.substation_radius_km must be a number from 0 to 100, not 1000"),
        ("import.bulk_load_min_rows", "-1", "import.bulk_load_min_rows must be a whole number from 0 to 100000000, not -1"),
        ("feeds.max_future_minutes", "100000", "feeds.max_future_minutes must be a whole number from 0 to 1440, not 100000"),
        ("feeds.earliest_event_time", #""2999-01-01T00:00:00Z""#, "feeds.earliest_event_time must be an ISO 8601 time with a zone"),
        ("feeds.earliest_event_time", #""0001-01-01T00:00:00Z""#, "from 1900-01-01T00:00:00Z to the service's clock"),
        ("feeds.earliest_event_time", #""last tuesday""#, "feeds.earliest_event_time must be an ISO 8601 time with a zone"),
    ])
    func settingOutOfRange(key: String, json: String, message: String) async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let before = try await setting(key, on: client)
            // A psql user's plain UPDATE, and the service's function: both checked.
            for query: PostgresQuery in ["UPDATE oms_settings SET value = \(json)::jsonb WHERE key = \(key)",
                                         "SELECT * FROM oms_setting_set(\(key), \(json)::jsonb)"] {
                let refused = await refusal(query, on: client)
                #expect(refused?.state == "22023", "\(query.sql)")
                #expect(refused?.column == "value")
                #expect(refused?.message.contains(message) == true, "\(refused?.message ?? "accepted")")
            }
            #expect(try await setting(key, on: client) == before)
        }
    }

    @Test("every setting has a type and a range its default fits; values within range are taken, whole numbers in plain form")
    func settingsWithinRange() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let keys = try await client.scalar("SELECT string_agg(key, ',' ORDER BY key) FROM oms_settings", as: String.self)
            #expect(keys.split(separator: ",").map(String.init) == SettingKey.all.map(\.name).sorted())
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_settings WHERE NOT oms_setting_value_fits(value_type, minimum, maximum, value)",
                as: Int.self) == 0)
            for (key, json, stored) in [("onu.confidence", "1", "1"), ("onu.confidence", "0", "0"),
                                        ("correlation.confirm_confidence", "0.5", "0.5"),
                                        ("correlation.window_minutes", "10080", "10080"),
                                        ("meter.communication_timeout_minutes", "15.0", "15"),
                                        ("meter.communication_timeout_minutes", "2.5e1", "25"),
                                        ("scada.critical_alarms", #"["fault"]"#, #"["fault"]"#),
                                        ("call_center.strip_leading_zeros", "false", "false"),
                                        ("feeds.earliest_event_time", #""2024-01-01T00:00:00Z""#, #""2024-01-01T00:00:00Z""#)] {
                try await client.execute("UPDATE oms_settings SET value = \(json)::jsonb WHERE key = \(key)")
                #expect(try await setting(key, on: client) == stored, "\(key) \(json)")
            }
            // The minutes readers keep working on a whole number written as 2.5e1.
            #expect(try await client.scalar(
                "SELECT oms_setting_interval_minutes('meter.communication_timeout_minutes')::text", as: String.self) == "00:25:00")
            // The service's function reports the value it replaced.
            let previous = try await client.scalar(
                "SELECT previous_value::text FROM oms_setting_set('correlation.window_minutes', '30')", as: String.self)
            #expect(previous == "10080")
        }
    }

    // MARK: - Event times

    @Test("every feed refuses an event time too far ahead or before the horizon, naming the field; nothing is stored")
    func eventTimesOutsideTheWindow() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self)
            let audited = try await count("oms_meter_status_events", on: client)
            let cases: [(PostgresQuery, String, String)] = [
                ("SELECT insert_scada_event_with_meter_check(\(#"{"eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD001", "alarmType": "fault", "timestamp": "9999-12-31T23:59:59Z"}"#)::jsonb)",
                 "timestamp", "more than 5 minutes ahead of the service's clock"),
                ("SELECT insert_scada_event_from_json(\(#"{"eventType": "breaker_trip", "substationId": "SS001", "timestamp": "1999-12-31T23:59:59Z"}"#)::jsonb)",
                 "timestamp", "before the earliest event time accepted (2000-01-01T00:00:00Z, feeds.earliest_event_time)"),
                // ONU: the batch's inline path, its parser path (an alarm name that is a number), the single form.
                ("SELECT insert_onu_events_with_meter_sync(\("[{\"type\": \"ONU_LastGaspAlert\", \"eventId\": \"T1\", \"onuId\": \"ONU-000001\", \"timestamp\": \"\(Self.time(60))\"}, {\"type\": \"ONU_LastGaspAlert\", \"eventId\": \"T2\", \"onuId\": \"ONU-000003\", \"timestamp\": \"2999-01-01T00:00:00Z\"}]")::jsonb)",
                 "timestamp", "is 2999-01-01T00:00:00Z, more than 5 minutes ahead"),
                ("SELECT insert_onu_event_from_json_with_meter_sync(\(#"{"type": "ONU_Alarm", "eventId": "T3", "onuId": "ONU-000001", "timestamp": "2999-01-01T00:00:00Z", "alarmData": {"alarmName": 7}}"#)::jsonb)",
                 "timestamp", "more than 5 minutes ahead"),
                ("SELECT insert_onu_event_from_json_with_meter_sync(\(#"{"type": "ONU_LastGaspAlert", "eventId": "T4", "onuId": "ONU-000001", "timestamp": "0001-01-01T00:00:00+01:00"}"#)::jsonb)",
                 "timestamp", "is 0001-12-31T23:00:00Z BC, before the earliest event time accepted"),
                ("SELECT insert_kaifa_event_from_json_with_meter_sync(\("{\"mRID\": \"T5\", \"createdDateTime\": \"2999-01-01T00:00:00Z\", \"eventTypeRef\": \"3.26.0.47\", \"assetMRID\": \"\(asset)\"}")::jsonb)",
                 "createdDateTime", "more than 5 minutes ahead"),
                ("SELECT insert_kaifa_events_with_meter_sync(\("[{\"mRID\": \"T6\", \"createdDateTime\": \"1970-01-01T00:00:00Z\", \"eventTypeRef\": \"3.26.0.47\", \"assetMRID\": \"\(asset)\"}]")::jsonb)",
                 "createdDateTime", "before the earliest event time accepted"),
                ("SELECT insert_callcenter_ticket_from_json_with_meter_link(\(#"{"ticketId": "T7", "timestamp": "2999-01-01T00:00:00Z", "customer": {"meterNumber": "M10000306"}}"#)::jsonb)",
                 "timestamp", "more than 5 minutes ahead"),
                // A day, an hour or a zone offset out of range: named by field on the batch's inline path too.
                ("SELECT insert_onu_events_with_meter_sync(\(#"[{"type": "ONU_LastGaspAlert", "eventId": "T8", "onuId": "ONU-000001", "timestamp": "2025-02-30T10:00:00Z"}]"#)::jsonb)",
                 "timestamp", "is not a valid time"),
                ("SELECT insert_onu_events_with_meter_sync(\(#"[{"type": "ONU_LastGaspAlert", "eventId": "T9", "onuId": "ONU-000001", "timestamp": "2025-01-30T10:00:00+99:00"}]"#)::jsonb)",
                 "timestamp", "is not a valid time"),
                ("SELECT insert_kaifa_events_with_meter_sync(\("[{\"mRID\": \"T10\", \"createdDateTime\": \"0000-01-01T00:00:00Z\", \"eventTypeRef\": \"3.26.0.47\", \"assetMRID\": \"\(asset)\"}]")::jsonb)",
                 "createdDateTime", "is not a valid time"),
            ]
            for (query, field, message) in cases {
                let refused = await refusal(query, on: client)
                #expect(refused?.state == "22023", "\(query.sql)")
                #expect(refused?.column == field, "\(query.sql)")
                #expect(refused?.message.contains(message) == true, "\(refused?.message ?? "accepted")")
            }
            for table in ["scada_events", "onu_events", "kaifa_events", "callcenter_tickets", "oms_outage_events"] {
                #expect(try await count(table, on: client) == 0, "\(table)")
            }
            #expect(try await count("oms_meter_status_events", on: client) == audited)
        }
    }

    @Test("the window follows its settings; replays of past storms (2024) keep working by default")
    func windowSettings() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let gasp = { (id: String, time: String) -> PostgresQuery in
                "SELECT insert_onu_event_from_json_with_meter_sync(\("{\"type\": \"ONU_LastGaspAlert\", \"eventId\": \"\(id)\", \"onuId\": \"ONU-000001\", \"timestamp\": \"\(time)\"}")::jsonb)"
            }
            try await client.execute(gasp("PAST", "2024-03-01T10:00:00Z"))
            try await client.execute(gasp("SOON", Self.time(240)))
            #expect(await refusal(gasp("LATER", Self.time(1800)), on: client)?.column == "timestamp")
            try await client.execute("UPDATE oms_settings SET value = '60' WHERE key = 'feeds.max_future_minutes'")
            try await client.execute(gasp("LATER", Self.time(1800)))
            try await client.execute(#"UPDATE oms_settings SET value = '"2025-01-01T00:00:00Z"' WHERE key = 'feeds.earliest_event_time'"#)
            let refused = await refusal(gasp("OLDER", "2024-03-01T10:05:00Z"), on: client)
            #expect(refused?.message.contains("before the earliest event time accepted (2025-01-01T00:00:00Z") == true)
            #expect(try await count("onu_events", on: client) == 3)
        }
    }

    @Test("the seed's update_meter_status refuses an implausible time (COLUMN timestamp); its example still works verbatim")
    func updateMeterStatusTimes() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let audited = try await count("oms_meter_status_events", on: client)
            for time in ["2999-01-01T00:00:00Z", "0001-01-01T00:00:00Z"] {
                let refused = await refusal(
                    "SELECT update_meter_status('M12345678', 'off', 'power_off', 'onu', 'X', \(time)::timestamptz)", on: client)
                #expect(refused?.state == "22023")
                #expect(refused?.column == "timestamp")
            }
            #expect(try await count("oms_meter_status_events", on: client) == audited)
            let seed = try await database.psql("""
                SELECT update_meter_status(
                    p_meter_number := 'M12345678',
                    p_new_status := 'off',
                    p_event_type := 'power_off',
                    p_source_type := 'onu',
                    p_source_event_id := 'ONU_EVENT_123'
                );
                """)
            #expect(seed.rows.count == 1)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meter_status_events WHERE event_timestamp < '1900-01-01'", as: Int.self) == 0)
        }
    }

    // MARK: - Manual changes: late, repeated, reused request ids

    @Test("a manual change older than the meter's state is stored, not applied, and says so; its retry too")
    func lateManualChange() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let first = try await client.fetch(
                "SELECT duplicate, applied, newer_state_at IS NULL FROM oms_set_meter_power_status('M10000311', 'off', 'R-NOW')",
                logger: TestDatabase.logger)
            for (duplicate, applied, noNewer) in try first.decode((Bool, Bool, Bool).self) {
                #expect(!duplicate && applied && noNewer)
            }
            let newest = try await client.scalar(
                "SELECT last_status_change FROM oms_meters WHERE meter_number = 'M10000311'", as: Date.self)
            let earlier = Self.time(-3600)
            for _ in 0..<2 {
                let late = try await client.fetch(
                    "SELECT duplicate, applied, newer_state_at FROM oms_set_meter_power_status('M10000311', 'on', 'R-LATE', \(earlier)::timestamptz)",
                    logger: TestDatabase.logger)
                var rows = 0
                for (_, applied, newer) in try late.decode((Bool, Bool, Date?).self) {
                    rows += 1
                    #expect(!applied)
                    #expect(newer == newest)
                }
                #expect(rows == 1)
            }
            #expect(try await client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meter_status_events WHERE source_event_id = 'R-LATE' AND NOT applied", as: Int.self) == 1)
        }
    }

    @Test("a request id reused with other content is refused (23505, request_id); an exact retry is a repeat")
    func reusedRequestID() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let at = Self.time(-600)
            try await client.execute(
                "SELECT * FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', \(at)::timestamptz, 'crew report')")
            // The same request again (with or without its timestamp): a repeat.
            for query: PostgresQuery in [
                "SELECT duplicate FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', \(at)::timestamptz, 'crew report')",
                "SELECT duplicate FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', NULL, 'crew report')",
            ] {
                #expect(try await client.scalar(query, as: Bool.self))
            }
            let other: [PostgresQuery] = [
                "SELECT * FROM oms_set_meter_power_status('M10000311', 'on', 'R-1', \(at)::timestamptz, 'crew report')",
                "SELECT * FROM oms_set_meter_power_status('M10000312', 'off', 'R-1', \(at)::timestamptz, 'crew report')",
                "SELECT * FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', now() - interval '1 minute', 'crew report')",
                "SELECT * FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', \(at)::timestamptz, 'another note')",
                "SELECT * FROM oms_set_meter_power_status('M10000311', 'off', 'R-1', \(at)::timestamptz)",
            ]
            for query in other {
                let refused = await refusal(query, on: client)
                #expect(refused?.state == "23505", "\(query.sql)")
                #expect(refused?.column == "request_id")
                #expect(refused?.message.contains(#"request id "R-1" was already used for another change (meter M10000311, power off"#) == true)
            }
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meter_status_events WHERE source_type = 'manual'", as: Int.self) == 1)
        }
    }

    // MARK: - SCADA events stored unchecked; refused messages

    func check(_ message: String, on client: PostgresClient) async throws -> SCADACheckSummary {
        let json = try await client.scalar(
            "SELECT insert_scada_event_with_meter_check(\(message)::jsonb)::text", as: String.self)
        return try JSONDecoder().decode(SCADACheckSummary.self, from: Data(json.utf8))
    }

    @Test("a trip stored as not critical by a wrong setting is checked when re-sent after the fix, not lost as a duplicate")
    func misclassifiedTripRechecked() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let trip = #"{"eventId": "TRIP-1", "eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001", "feederId": "FD001", "timestamp": "\#(Self.time(-30))"}"#
            // The issue's setting, as a database could hold it before 0031.
            try await forceSetting("scada.critical_alarms", #"[1, 2, {"a": null}]"#, on: client)
            let first = try await check(trip, on: client)
            #expect(!first.metersChecked)
            #expect(first.reason?.hasPrefix("not critical") == true)
            let again = try await check(trip, on: client)
            #expect(again.duplicate == true)
            #expect(!again.metersChecked)
            // The meter check waits for the setting; the breaker's state does not (scada_state_words):
            // the feeder's outage is confirmed by telemetry already, and the check joins it later.
            #expect(try await count("oms_outage_events", on: client) == 1)
            #expect(try await count("scada_event_affected_meters", on: client) == 0)

            try await client.execute(#"UPDATE oms_settings SET value = '["fault", "breaker_trip"]' WHERE key = 'scada.critical_alarms'"#)
            let fixed = try await check(trip, on: client)
            #expect(fixed.duplicate == nil)
            #expect(fixed.rechecked == true)
            #expect(fixed.previousReason?.hasPrefix("not critical") == true)
            #expect(fixed.metersChecked)
            #expect(fixed.totalMeters == 300)
            #expect(fixed.outageEventID != nil)
            #expect(try await count("scada_event_affected_meters", on: client) == 300)
            // Checked now: a repeat again, changing nothing.
            let repeated = try await check(trip, on: client)
            #expect(repeated.duplicate == true)
            #expect(repeated.outageEventID == fixed.outageEventID)
            #expect(try await count("scada_event_affected_meters", on: client) == 300)
            #expect(try await count("oms_outage_events", on: client) == 1)
        }
    }

    @Test("unknown substation or feeder: stored unchecked, checked when re-sent once the network knows it; batches too")
    func unknownFeederRechecked() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let trip = #"{"eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001", "feederId": "FD010", "timestamp": "\#(Self.time(-30))"}"#
            let first = try await check(trip, on: client)
            #expect(first.reason == #"unknown feeder "FD010""#)
            let batch = "[\(trip), \(trip)]"
            let stillUnknown = try JSONDecoder().decode([SCADACheckSummary].self, from: Data(try await client.scalar(
                "SELECT insert_scada_events_with_meter_check(\(batch)::jsonb)::text", as: String.self).utf8))
            #expect(stillUnknown.map { $0.duplicate == true } == [true, true])

            try await client.execute(
                """
                INSERT INTO network_feeders (feeder_id, substation_id, name)
                SELECT 'FD010', id, 'New feeder' FROM network_substations WHERE substation_id = 'SS001'
                """)
            let results = try JSONDecoder().decode([SCADACheckSummary].self, from: Data(try await client.scalar(
                "SELECT insert_scada_events_with_meter_check(\(batch)::jsonb)::text", as: String.self).utf8))
            #expect(results.map { $0.rechecked == true } == [true, true])
            #expect(results.map { $0.duplicate == true } == [false, true])
            #expect(results[0].metersChecked && results[0].scope == "feeder" && results[0].totalMeters == 0)
            #expect(results[0].previousReason == #"unknown feeder "FD010""#)
        }
    }

    @Test("a message refused (by a bad setting, by the network) leaves nothing stored: its repeat is processed normally")
    func refusedLeavesNothing() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // A feeder of another substation: refused, nothing stored.
            let wrongFeeder = #"{"eventId": "TRIP-X", "eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001", "feederId": "FD004", "timestamp": "\#(Self.time(-30))"}"#
            let refused = await refusal("SELECT insert_scada_event_with_meter_check(\(wrongFeeder)::jsonb)", on: client)
            #expect(refused?.column == "feederId")
            #expect(try await count("scada_events", on: client) == 0)

            // A setting as the issue found it (onu.confidence 70): every ONU message refused, nothing stored.
            try await forceSetting("onu.confidence", "70", on: client)
            let gasp = #"{"type": "ONU_LastGaspAlert", "eventId": "G-1", "onuId": "ONU-000001", "timestamp": "\#(Self.time(-20))"}"#
            let overflow = await refusal("SELECT insert_onu_event_from_json_with_meter_sync(\(gasp)::jsonb)", on: client)
            #expect(overflow != nil)
            for table in ["onu_events", "oms_outage_events"] {
                #expect(try await count(table, on: client) == 0, "\(table)")
            }
            #expect(try await count("oms_meter_status_events WHERE source_type = 'onu' AND source_event_id = 'G-1'", on: client) == 0)
            try await client.execute("UPDATE oms_settings SET value = '0.7' WHERE key = 'onu.confidence'")
            let json = try await client.scalar(
                "SELECT insert_onu_event_from_json_with_meter_sync(\(gasp)::jsonb)::text", as: String.self)
            let summary = try JSONDecoder().decode(MeterSyncSummary.self, from: Data(json.utf8))
            #expect(summary.duplicate == nil)
            #expect(summary.statusChanges == 2)
            #expect(summary.outageEventIDs.count == 1)
        }
    }

    // MARK: - Through the ingestor (what the service and `oms ingest` run)

    @Test("the decoders accept what they accepted; the database's window refuses it, and the ingestor names the field")
    func ingestorNamesTheField() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let onu = #"{"type": "ONU_LastGaspAlert", "eventId": "F-1", "onuId": "ONU-000001", "timestamp": "2999-01-01T00:00:00Z"}"#
            #expect(ONUDecoder.decodeBatch(Array(onu.utf8)).allSatisfy { (try? $0.get()) != nil })
            let outcomes = try await FeedIngestor(.onu, client: client, logger: TestDatabase.logger).ingest(body: Array(onu.utf8))
            guard case .rejected(let error)? = outcomes.first else { Issue.record("\(outcomes)"); return }
            #expect(error.field == "timestamp")
            #expect(error.reason.hasPrefix("is 2999-01-01T00:00:00Z, more than 5 minutes ahead of the service's clock"))

            let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self)
            let xml = KAIFADecoderSample.soap(asset: asset, time: "1999-06-01T00:00:00Z", mRID: "F-2")
            let kaifa = try await FeedIngestor(.kaifa, client: client, logger: TestDatabase.logger).ingest(body: Array(xml.utf8))
            guard case .rejected(let xmlError)? = kaifa.first else { Issue.record("\(kaifa)"); return }
            #expect(xmlError.field == "createdDateTime")
            // A batch with one bad time: the others land, the bad one is named.
            let batch = "[\(onu), {\"type\": \"ONU_LastGaspAlert\", \"eventId\": \"F-3\", \"onuId\": \"ONU-000003\", \"timestamp\": \"\(Self.time(-5))\"}]"
            let mixed = try await FeedIngestor(.onu, client: client, logger: TestDatabase.logger).ingest(body: Array(batch.utf8))
            guard case .rejected(let first)? = mixed.first, case .applied? = mixed.last else { Issue.record("\(mixed)"); return }
            #expect(first.field == "timestamp" && first.index == 0)
            #expect(try await count("onu_events", on: client) == 1)
            #expect(try await count("kaifa_events", on: client) == 0)
        }
    }

    @Test("a message whose status changes were all late is stored but not 'applied': isLate")
    func lateFeedMessage() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let ingestor = FeedIngestor(.onu, client: client, logger: TestDatabase.logger)
            let outcomes = try await ingestor.ingest(body: Array(
                #"{"type": "ONU_LastGaspAlert", "eventId": "OLD-1", "onuId": "ONU-000001", "timestamp": "2020-01-01T00:00:00Z"}"#.utf8))
            guard case .applied(let summary)? = outcomes.first else { Issue.record("\(outcomes)"); return }
            #expect(summary.lateChanges == 2 && summary.statusChanges == 0)
            #expect(summary.isLate)
            #expect(outcomes.first?.isLate == true)
            let fresh = try await ingestor.ingest(body: Array(
                #"{"type": "ONU_LastGaspAlert", "eventId": "NEW-1", "onuId": "ONU-000001", "timestamp": "\#(Self.time(-5))"}"#.utf8))
            #expect(fresh.first?.isLate == false)
        }
    }
}
