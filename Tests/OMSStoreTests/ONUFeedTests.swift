import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The ONU feed through `insert_onu_event_from_json_with_meter_sync`, on the sample network:
/// ONU-000001 (HWTC00000001) serves M12345678 and M10000002, both on FD001-DP01.
@Suite("ONU feed: every meter on the ONU, status sync, correlation")
struct ONUFeedTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    func sync(_ message: String, on client: PostgresClient) async throws -> MeterSyncSummary {
        let json = try await client.scalar(
            "SELECT insert_onu_event_from_json_with_meter_sync(\(message)::jsonb)::text", as: String.self)
        return try JSONDecoder().decode(MeterSyncSummary.self, from: Data(json.utf8))
    }

    func status(_ meter: String, on client: PostgresClient) async throws -> String {
        try await client.scalar(
            "SELECT power_status || '/' || communication_status FROM oms_meters WHERE meter_number = \(meter)",
            as: String.self)
    }

    @Test("a dying gasp turns off every meter on the ONU and opens one outage at their distribution point")
    func sharedONU() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let summary = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "G1", "onuId": "ONU-000001", "timestamp": "\#(Self.time(60))"}"#,
                on: client)
            #expect(summary.kind == "power_off")
            #expect(summary.matchStatus == "matched")
            #expect(summary.meterNumbers == ["M10000002", "M12345678"])
            #expect(summary.statusChanges == 2)
            #expect(summary.outagesOpened == 1)
            #expect(try await status("M12345678", on: client) == "off/online")
            #expect(try await status("M10000002", on: client) == "off/online")
            let outage = try await client.scalar(
                """
                SELECT event_id || ' ' || status || ' ' || confidence_score || ' ' || affected_meters_count || ' '
                       || dp_code FROM oms_active_outages
                """, as: String.self)
            #expect(outage.hasPrefix("OMS_ONU_"))
            // Two meters reported (predict.dp_min_reports = 2): the distribution point is predicted
            // out, covering its 30 meters.
            #expect(outage.hasSuffix(" predicted 0.700 30 FD001-DP01"))
            let audit = try await client.scalar(
                "SELECT string_agg(source_type || ':' || confidence_score, ',') FROM oms_meter_status_events WHERE source_event_id = 'G1'",
                as: String.self)
            #expect(audit == "onu:0.700,onu:0.700")
        }
    }

    @Test("matching by serial, any case; an unknown ONU is kept and reported")
    func matching() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let bySerial = try await sync(
                #"{"type": "ONU_Alarm", "eventId": "S1", "onuSerial": "hwtc00000003", "timestamp": "\#(Self.time(60))", "alarmData": {"alarmName": "DGi", "state": "raised"}}"#,
                on: client)
            #expect(bySerial.meterNumbers == ["M10000003"])
            #expect(bySerial.kind == "power_off")
            let unknown = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "U1", "onuSerial": "ALCLDEADBEEF", "timestamp": "\#(Self.time(60))"}"#,
                on: client)
            #expect(unknown.matchStatus == "unmatched")
            #expect(unknown.metersMatched == 0)
            #expect(unknown.outageEventIDs.isEmpty)
            #expect(try await client.scalar(
                "SELECT string_agg(source_type || ' ' || identifier, ',') FROM oms_unmatched_feed_events", as: String.self)
                == "onu ALCLDEADBEEF")
        }
    }

    @Test("two ONUs registered with one serial: the ONU id decides; an ONU its OLT renamed is still found by its serial")
    func conflictingIdentities() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // ONU-000004 (M10000004) registered with ONU-000003's serial by mistake.
            try await client.execute("UPDATE oms_meters SET onu_serial_no = 'HWTC00000003' WHERE meter_number = 'M10000004'")
            func gasp(_ id: String, _ fields: String) -> String {
                #"{"type": "ONU_Alarm", "eventId": "\#(id)", \#(fields), "timestamp": "\#(Self.time(60))", "alarmData": {"alarmName": "DGi", "state": "raised"}}"#
            }
            let both = try await sync(gasp("C1", #""onuId": "ONU-000003", "onuSerial": "HWTC00000003""#), on: client)
            #expect(both.meterNumbers == ["M10000003"], "the meter whose ONU id is another's is left out")
            #expect(try await status("M10000004", on: client) == "on/online")
            // Only a conflicting match: the OLT's new id for ONU-000006, its serial unchanged.
            let renamed = try await sync(gasp("C2", #""onuId": "ONU-900006", "onuSerial": "HWTC00000006""#), on: client)
            #expect(renamed.meterNumbers == ["M10000006"])
            // The serial alone cannot tell the two apart: both.
            let serialOnly = try await sync(gasp("C3", #""onuSerial": "HWTC00000003""#), on: client)
            #expect(serialOnly.meterNumbers == ["M10000003", "M10000004"])
        }
    }

    @Test("loss of signal is a communication fault: power untouched, no outage")
    func lossOfSignal() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let raised = try await sync(
                #"{"type": "ONU_Alarm", "eventId": "L1", "onuId": "ONU-000003", "timestamp": "\#(Self.time(60))", "alarmData": {"alarmName": "LOSi", "state": "raised"}}"#,
                on: client)
            #expect(raised.kind == "comm_lost")
            #expect(raised.outageEventIDs.isEmpty)
            #expect(try await status("M10000003", on: client) == "on/offline")
            let cleared = try await sync(
                #"{"type": "ONU_Alarm", "eventId": "L2", "onuId": "ONU-000003", "timestamp": "\#(Self.time(120))", "alarmData": {"alarmName": "LOSi", "state": "cleared"}}"#,
                on: client)
            #expect(cleared.kind == "comm_restored")
            #expect(try await status("M10000003", on: client) == "on/online")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_events", as: Int.self) == 0)
        }
    }

    @Test("gasps from one DP share an outage; a repeat adds nothing; power back from a few of its meters is a partial restoration")
    func lifecycle() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let first = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "A", "onuId": "ONU-000001", "timestamp": "\#(Self.time(60))"}"#,
                on: client)
            let second = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "B", "onuId": "ONU-000003", "timestamp": "\#(Self.time(70))"}"#,
                on: client)
            #expect(second.outageEventIDs == first.outageEventIDs)
            #expect(second.outagesOpened == 0)
            let outage = try #require(first.outageEventIDs.first)
            let confidence = { try await client.scalar(
                "SELECT confidence_score::text || ' ' || status || ' ' || affected_meters_count FROM oms_outage_events WHERE id = \(outage)",
                as: String.self) }
            // Two ONU events: 1 - 0.3 * 0.3; the distribution point is predicted, all 30 meters.
            #expect(try await confidence() == "0.910 predicted 30")
            let repeated = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "B", "onuId": "ONU-000003", "timestamp": "\#(Self.time(70))"}"#,
                on: client)
            #expect(repeated.duplicate == true)
            #expect(try await confidence() == "0.910 predicted 30")

            let partial = try await sync(
                #"{"type": "ONU_PowerRestored", "eventId": "R1", "onuId": "ONU-000003", "timestamp": "\#(Self.time(200))"}"#,
                on: client)
            #expect(partial.kind == "power_on")
            #expect(try await confidence() == "0.910 predicted 30")
            let out = { try await client.scalar("SELECT meters_out FROM oms_outage_events WHERE id = \(outage)", as: Int.self) }
            #expect(try await out() == 29)
            _ = try await sync(
                #"{"type": "ONU_PowerRestored", "eventId": "R2", "onuId": "ONU-000001", "timestamp": "\#(Self.time(240))"}"#,
                on: client)
            // 3 of 30 meters back: not yet restoration.meter_share (OutageEngineTests restores one).
            #expect(try await confidence() == "0.910 predicted 30")
            #expect(try await out() == 27)
            let timeline = try await client.scalar(
                "SELECT string_agg(event_type, ',' ORDER BY \"timestamp\", event_type) FROM oms_event_timeline WHERE outage_event_id = \(outage)",
                as: String.self)
            #expect(timeline == "outage_opened,predicted,evidence_linked,partial_restoration,restoration_evidence,partial_restoration,restoration_evidence")
            #expect(try await client.scalar(
                "SELECT actual_restoration_time IS NULL FROM oms_outage_events WHERE id = \(outage)", as: Bool.self))
            #expect(try await status("M12345678", on: client) == "on/online")
        }
    }

    @Test("the batch form: one call, one result per message in order; a batch that is not an array is refused")
    func batchForm() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let batch = """
                [{"type": "ONU_LastGaspAlert", "eventId": "B1", "onuId": "ONU-000001", "timestamp": "\(Self.time(60))"},
                 {"type": "ONU_Alarm", "eventId": "B2", "onuId": "ONU-000003", "timestamp": "\(Self.time(61))", "alarmData": {"alarmName": "LOSi"}},
                 {"type": "ONU_LastGaspAlert", "eventId": "B1", "onuId": "ONU-000001", "timestamp": "\(Self.time(60))"}]
                """
            let json = try await client.scalar(
                "SELECT insert_onu_events_with_meter_sync(\(batch)::jsonb)::text", as: String.self)
            let results = try JSONDecoder().decode([MeterSyncSummary].self, from: Data(json.utf8))
            #expect(results.map(\.kind) == ["power_off", "comm_lost", "power_off"])
            #expect(results.map { $0.duplicate ?? false } == [false, false, true])
            #expect(results[0].meterNumbers == ["M10000002", "M12345678"])
            await #expect { try await client.execute("SELECT insert_onu_events_with_meter_sync('{}')") }
                throws: { $0.readableDatabaseMessage.contains("expected a JSON array") }
            // A message the cheap checks do not pass is validated in full, naming its field; nothing of the batch is written.
            let bad = #"[{"type": "ONU_LastGaspAlert", "eventId": "B9", "onuId": "ONU-000007", "timestamp": "\#(Self.time(80))"}, {"type": "ONU_LastGaspAlert", "eventId": "B10", "onuSerial": "HWTC12", "timestamp": "\#(Self.time(81))"}]"#
            await #expect { try await client.execute("SELECT insert_onu_events_with_meter_sync(\(bad)::jsonb)") }
                throws: { ($0 as? PSQLError)?.serverInfo?[.columnName] == "onuSerial" }
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM onu_events WHERE source_event_id IN ('B9', 'B10')", as: Int.self) == 0)
        }
    }

    @Test("the OLT's shape (an alarm object, a location) is read inline as the parser reads it; other shapes go through the parser")
    func inlineReadMatchesParser() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let batch = """
                [{"type": "ONU_Alarm", "eventId": "I1", "onuId": "ONU-000001", "onuSerial": "hwtc00000001", "timestamp": "\(Self.time(60))",
                  "alarmData": {"alarmName": " DGi ", "state": "raised"}, "location": {"lat": 24.7136, "lng": 46.6753}},
                 {"type": "ONU_Alarm", "eventId": "I2", "onuId": "ONU-000003", "timestamp": "\(Self.time(61))",
                  "alarmData": {"alarm": "LOSi", "status": "cleared"}, "location": null},
                 {"type": "ONU_Alarm", "eventId": "I3", "onuId": "ONU-000003", "timestamp": "\(Self.time(62))",
                  "alarmData": {"alarmName": 7, "state": "raised"}, "location": {"lat": "24.5", "lng": 46}},
                 {"type": "ONU_PowerRestored", "eventId": "I4", "onuId": "ONU-000001", "timestamp": "\(Self.time(63))",
                  "alarmData": {"alarmName": "DGi", "state": "cleared", "extra": {"x": 1}}, "location": {"lat": -90, "lng": 180, "alt": 3}}]
                """
            let json = try await client.scalar(
                "SELECT insert_onu_events_with_meter_sync(\(batch)::jsonb)::text", as: String.self)
            let results = try JSONDecoder().decode([MeterSyncSummary].self, from: Data(json.utf8))
            #expect(results.map(\.kind) == ["power_off", "comm_restored", "none", "power_on"])
            // Each stored row holds what the parser makes of its message, whichever path read it.
            let differing = try await client.scalar(
                """
                SELECT count(*)::int FROM onu_events e CROSS JOIN LATERAL oms_parse_onu_event(e.raw) p
                 WHERE e.source_event_id IN ('I1', 'I2', 'I3', 'I4')
                   AND (e.source_event_id, e.event_type, e.alarm_name, e.onu_id, e.onu_serial, e.event_timestamp,
                        e.latitude, e.longitude, e.event_kind)
                       IS DISTINCT FROM (p.source_event_id, p.event_type, p.alarm_name, p.onu_id, p.onu_serial,
                                         p.event_timestamp, p.latitude, p.longitude, p.event_kind)
                """, as: Int.self)
            #expect(differing == 0)
            #expect(try await client.scalar(
                "SELECT string_agg(coalesce(alarm_name, '-') || '@' || coalesce(latitude::text, '-'), ',' ORDER BY source_event_id) FROM onu_events",
                as: String.self) == "DGi@24.7136,LOSi@-,7@24.5,DGi@-90")
            // A location out of range is refused by the parser, naming the field; nothing is written.
            let outside = #"[{"type": "ONU_Alarm", "eventId": "I5", "onuId": "ONU-000001", "timestamp": "\#(Self.time(64))", "alarmData": {"alarmName": "DGi"}, "location": {"lat": 95, "lng": 46}}]"#
            await #expect { try await client.execute("SELECT insert_onu_events_with_meter_sync(\(outside)::jsonb)") }
                throws: { ($0 as? PSQLError)?.serverInfo?[.columnName] == "location.lat" }
            #expect(try await client.scalar("SELECT count(*)::int FROM onu_events WHERE source_event_id = 'I5'", as: Int.self) == 0)
        }
    }

    @Test("a late dying gasp is audited but does not overwrite newer state")
    func lateEvent() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let late = try await sync(
                #"{"type": "ONU_LastGaspAlert", "eventId": "OLD", "onuId": "ONU-000001", "timestamp": "2020-01-01T00:00:00Z"}"#,
                on: client)
            #expect(late.statusChanges == 0)
            #expect(late.lateChanges == 2)
            #expect(try await status("M12345678", on: client) == "on/online")
        }
    }

    @Test("Swift and SQL refuse the same bad ONU messages on the same field", arguments: [
        #"{"onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"type": "ONU_LastGaspAlert", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"type": "ONU_LastGaspAlert", "onuSerial": "HWTC1A2B3C4", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1"}"#,
        #"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z", "alarmData": "DGi"}"#,
        #"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z", "location": {"lat": 1}}"#,
    ])
    func swiftAndSQLAgree(message: String) async throws {
        guard case .failure(let swiftError)? = ONUDecoder.decodeBatch(Array(message.utf8)).first else {
            Issue.record("the Swift decoder accepted \(message)")
            return
        }
        try await TestDatabase.with(.migrated) { database in
            do {
                _ = try await database.client.scalar("SELECT insert_onu_event_from_json(\(message)::jsonb)", as: UUID.self)
                Issue.record("SQL accepted \(message)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.columnName] == swiftError.field)
            }
        }
    }
}
