import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("KAIFA feed: event-type meanings, matching, sync")
struct KAIFAFeedTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    func sync(_ message: String, on client: PostgresClient) async throws -> MeterSyncSummary {
        let json = try await client.scalar(
            "SELECT insert_kaifa_event_from_json_with_meter_sync(\(message)::jsonb)::text", as: String.self)
        return try JSONDecoder().decode(MeterSyncSummary.self, from: Data(json.utf8))
    }

    func identity(_ meter: String, on client: PostgresClient) async throws -> (asset: String, point: String) {
        let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = \(meter)", as: String.self)
        let point = try await client.scalar("SELECT usage_point_mrid FROM oms_meters WHERE meter_number = \(meter)", as: String.self)
        return (asset, point)
    }

    /// Sessions of this test's database blocked on a lock while running `function`, polled until
    /// there is one (60 s at most: a loaded CI machine may be slow to open the second connection).
    /// Other tests' databases share the cluster and may wait on their own locks, hence `datname`.
    func sessionsWaitingOnALock(running function: String, on client: PostgresClient) async throws -> Int {
        let pattern = "%\(function)%"
        for _ in 0..<3000 {
            let waiting = try await client.scalar(
                """
                SELECT count(*)::int FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE \(pattern)
                """,
                as: Int.self)
            if waiting > 0 { return waiting }
            try await Task.sleep(for: .milliseconds(20))
        }
        return 0
    }

    func status(_ meter: String, on client: PostgresClient) async throws -> String {
        try await client.scalar(
            "SELECT power_status || '/' || communication_status FROM oms_meters WHERE meter_number = \(meter)",
            as: String.self)
    }

    @Test("meanings from the code table, per part wildcards; unknown codes change nothing", arguments: [
        ("3.26.0.47", "power_off"), ("3.26.136.47", "power_off"), ("3.26.17.185", "power_off"), ("3.26.38.85", "power_off"),
        ("3.26.0.216", "power_on"), ("3.23.136.47", "comm_lost"), ("3.1.0.47", "comm_lost"), ("3.12.0.257", "tamper"),
        ("0.26.38.85", "unknown"), ("3.26.0.999", "unknown"),
    ])
    func meanings(code: String, meaning: String) async throws {
        let found = try await TestDatabase.with(.migrated) { database in
            try await database.client.scalar("SELECT oms_kaifa_meaning(\(code), NULL)", as: String.self)
        }
        #expect(found == meaning)
    }

    @Test("a vendor's own codes are configuration, per head-end")
    func perSource() async throws {
        try await TestDatabase.with(.migrated) { database in
            try await database.client.execute(
                "INSERT INTO kaifa_event_types (source, pattern, meaning, description) VALUES ('VENDOR-X', '0.26.38.85', 'power_off', 'DLMS power down')")
            #expect(try await database.client.scalar("SELECT oms_kaifa_meaning('0.26.38.85', 'VENDOR-X')", as: String.self) == "power_off")
            #expect(try await database.client.scalar("SELECT oms_kaifa_meaning('0.26.38.85', 'KAIFA-HES')", as: String.self) == "unknown")
        }
    }

    @Test("matching: asset mRID, else usage point, else meter number; unknown meters kept")
    func matching() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let m311 = try await identity("M10000311", on: client)
            let m312 = try await identity("M10000312", on: client)
            let byAsset = try await sync(
                #"{"mRID": "E1", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\#(m311.asset)", "usagePointMRID": "\#(m312.point)"}"#,
                on: client)
            #expect(byAsset.meterNumbers == ["M10000311"])
            let byPoint = try await sync(
                #"{"mRID": "E2", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "unknown-asset", "usagePointMRID": "\#(m312.point)"}"#,
                on: client)
            #expect(byPoint.meterNumbers == ["M10000312"])
            let byNumber = try await sync(
                #"{"mRID": "E3", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "meterNumber": "M10000313"}"#,
                on: client)
            #expect(byNumber.meterNumbers == ["M10000313"])
            let unknown = try await sync(
                #"{"mRID": "E4", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "nobody"}"#,
                on: client)
            #expect(unknown.matchStatus == "unmatched")
            #expect(try await client.scalar(
                "SELECT string_agg(matched_by, ',' ORDER BY source_event_id) FROM kaifa_events WHERE matched_by IS NOT NULL",
                as: String.self) == "asset_mrid,usage_point_mrid,meter_number")
            #expect(try await client.scalar(
                "SELECT identifier FROM oms_unmatched_feed_events WHERE source_type = 'kaifa'", as: String.self) == "nobody")
        }
    }

    @Test("power down, power up (restores), communication loss, tamper, unknown code; severity never decides")
    func statuses() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await identity("M10000311", on: client).asset
            func event(_ id: String, _ code: String, _ offset: Int, severity: String = "low") -> String {
                #"{"mRID": "\#(id)", "createdDateTime": "\#(Self.time(offset))", "eventTypeRef": "\#(code)", "assetMRID": "\#(asset)", "severity": "\#(severity)"}"#
            }
            let down = try await sync(event("D", "3.26.136.47", 60), on: client)
            #expect(down.kind == "power_off" && down.outagesOpened == 1)
            #expect(try await status("M10000311", on: client) == "off/online")
            let critical = try await sync(event("X", "3.99.0.1", 70, severity: "critical"), on: client)
            #expect(critical.kind == "none" && critical.statusChanges == 0)
            let tamper = try await sync(event("T", "3.12.0.257", 80), on: client)
            #expect(tamper.kind == "none" && tamper.outageEventIDs.isEmpty)
            let up = try await sync(event("U", "3.26.136.216", 200), on: client)
            #expect(up.kind == "power_on")
            #expect(try await status("M10000311", on: client) == "on/online")
            #expect(try await client.scalar("SELECT status FROM oms_outage_events", as: String.self) == "restored")
            let lost = try await sync(event("C", "3.23.136.47", 240), on: client)
            #expect(lost.kind == "comm_lost" && lost.outageEventIDs.isEmpty)
            #expect(try await status("M10000311", on: client) == "on/offline")
            #expect(try await client.scalar(
                "SELECT string_agg(event_meaning, ',' ORDER BY event_timestamp) FROM kaifa_events", as: String.self)
                == "power_off,unknown,tamper,power_on,comm_lost")
        }
    }

    @Test("a power-up moves the meter's last communication forward, never back, even when its status stays; in the same write of the meter's row as its status")
    func heardFrom() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            func event(_ id: String, _ meter: String, _ code: String, _ time: String) -> String {
                #"{"mRID": "\#(id)", "createdDateTime": "\#(time)", "eventTypeRef": "\#(code)", "meterNumber": "\#(meter)"}"#
            }
            let (down, upA, upB, upC, late) = (Self.time(-600), Self.time(-120), Self.time(-60), Self.time(-180), Self.time(-300))
            try await client.execute(
                """
                UPDATE oms_meters SET last_communication = now() - interval '1 day'
                 WHERE meter_number IN ('M10000311', 'M10000312', 'M10000313')
                """)
            _ = try await sync(event("D-A", "M10000311", "3.26.0.47", down), on: client)
            _ = try await sync(event("D-C", "M10000313", "3.26.0.47", down), on: client)
            // One batch, one transaction: A and C come back (status and last communication), B was
            // never out (heard from only). Each meter's row is written once.
            let batch = "[" + [event("U-A", "M10000311", "3.26.0.216", upA), event("U-B", "M10000312", "3.26.0.216", upB),
                               event("U-C", "M10000313", "3.26.0.216", upC)].joined(separator: ",") + "]"
            let counted = try await database.psql(
                """
                CREATE TEMP TABLE before_batch AS
                SELECT n_tup_upd AS n FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters';
                DO $$ BEGIN PERFORM insert_kaifa_events_with_meter_sync('\(batch)'::jsonb); END $$;
                SELECT (SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'oms_meters') - b.n AS meter_writes
                  FROM before_batch b
                """)
            #expect(counted.int("meter_writes") == 3)
            func heard(_ meter: String) async throws -> String {
                try await client.scalar(
                    """
                    SELECT power_status || '/' || communication_status || ' ' || to_char(last_communication AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                      FROM oms_meters WHERE meter_number = \(meter)
                    """, as: String.self)
            }
            #expect(try await heard("M10000311") == "on/online \(upA)")
            #expect(try await heard("M10000312") == "on/online \(upB)")
            #expect(try await heard("M10000313") == "on/online \(upC)")
            // A power-up older than the last one heard: audited, last communication not moved back.
            _ = try await sync(event("U-A-LATE", "M10000311", "3.26.0.216", late), on: client)
            #expect(try await heard("M10000311") == "on/online \(upA)")
            // Communication restored is heard from too.
            let restored = Self.time(-30)
            _ = try await sync(event("R-B", "M10000312", "3.23.0.216", restored), on: client)
            #expect(try await heard("M10000312").hasSuffix(restored))
        }
    }

    @Test("the head-end's XML, decoded in Swift, lands through the same function")
    func xmlThroughIngestor() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let m311 = try await identity("M10000311", on: client)
            let xml = KAIFADecoderSample.soap(asset: m311.asset, time: Self.time(60))
            let outcomes = try await FeedIngestor(.kaifa, client: client, logger: TestDatabase.logger)
                .ingest(body: Array(xml.utf8))
            guard case .applied(let summary)? = outcomes.first else {
                Issue.record("not applied: \(outcomes)")
                return
            }
            #expect(summary.meterNumbers == ["M10000311"])
            let stored = try await client.scalar(
                "SELECT source || ' ' || (raw_message LIKE '<EndDeviceEvent>%')::text || ' ' || (raw ? 'rawXML')::text FROM kaifa_events",
                as: String.self)
            #expect(stored == "KAIFA-HES true false")
        }
    }

    @Test("the batch form: fast-path messages and one needing the full check; a repeat within the batch")
    func batchForm() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await identity("M10000311", on: client).asset
            let batch = """
                [{"mRID": "K1", "createdDateTime": "\(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\(asset)"},
                 {"mRID": "K2", "createdDateTime": "\(Self.time(61))", "EndDeviceEventType": {"ref": "3.26.0.216"}, "meterNumber": "M10000312", "details": [{"name": "x", "value": "y"}]},
                 {"mRID": "K1", "createdDateTime": "\(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\(asset)"}]
                """
            let json = try await client.scalar(
                "SELECT insert_kaifa_events_with_meter_sync(\(batch)::jsonb)::text", as: String.self)
            let results = try JSONDecoder().decode([MeterSyncSummary].self, from: Data(json.utf8))
            #expect(results.map(\.kind) == ["power_off", "power_on", "power_off"])
            #expect(results.map(\.meterNumbers) == [["M10000311"], ["M10000312"], ["M10000311"]])
            #expect(results.map { $0.duplicate ?? false } == [false, false, true])
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events", as: Int.self) == 2)
        }
    }

    @Test("a batch's last gasps about one outage: an evidence row each, one timeline entry for the opener and one for the rest, naming them")
    func timelinePerBatch() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // Four meters of one distribution point, all of it out: its outage and four pieces of evidence.
            let assets = try await client.fetch(
                """
                SELECT m.asset_mrid FROM oms_meters m
                 WHERE m.dp_id = (SELECT dp_id FROM oms_meters WHERE meter_number = 'M10000311') AND m.asset_mrid IS NOT NULL
                 ORDER BY m.meter_number LIMIT 4
                """, logger: TestDatabase.logger).decode(String.self)
            try #require(assets.count == 4)
            let batch = "[" + assets.enumerated().map { n, asset in
                #"{"mRID": "TL-\#(n)", "createdDateTime": "\#(Self.time(-60 + n))", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
            }.joined(separator: ", ") + "]"
            _ = try await client.scalar("SELECT insert_kaifa_events_with_meter_sync(\(batch)::jsonb)::text", as: String.self)
            let outage = try await client.scalar(
                "SELECT DISTINCT outage_event_id::text FROM kaifa_events WHERE source_event_id LIKE 'TL-%'", as: String.self)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_event_sources WHERE outage_event_id = \(outage)::uuid AND source_type = 'kaifa'",
                as: Int.self) == 4)
            let entries = try await client.fetch(
                """
                SELECT event_type, description, coalesce(metadata ->> 'source_event_id', ''), coalesce((metadata ->> 'events')::int, 1),
                       coalesce(metadata -> 'first_source_event_ids', '[]'::jsonb)::text
                  FROM oms_event_timeline
                 WHERE outage_event_id = \(outage)::uuid AND event_type IN ('outage_opened', 'evidence_linked')
                 ORDER BY "timestamp", event_type
                """, logger: TestDatabase.logger).decode((String, String, String, Int, String).self)
            #expect(entries.map(\.0) == ["outage_opened", "evidence_linked"])
            #expect(entries.first?.2 == "TL-0" && entries.first?.3 == 1)
            #expect(entries.last?.3 == 3)
            #expect(entries.last?.1.hasPrefix("+3 kaifa events: ") == true)
            #expect(entries.last?.4 == #"["TL-1", "TL-2", "TL-3"]"#)
        }
    }

    @Test("an event stored without sync is synced once by the sync form, in place")
    func storedThenSynced() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await identity("M10000311", on: client).asset
            let eventID = "K-STORED"
            let message = #"{"mRID": "K-STORED", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\#(asset)"}"#
            let id = try await client.scalar("SELECT insert_kaifa_event_from_json(\(message)::jsonb)::text", as: String.self)
            #expect(try await client.scalar("SELECT match_status FROM kaifa_events", as: String.self) == "pending")
            #expect(try await status("M10000311", on: client) == "on/online")

            let first = try await sync(message, on: client)
            #expect(first.duplicate == nil)
            #expect(first.statusChanges == 1)
            let row = try await client.scalar(
                "SELECT id::text || ' ' || match_status || ' ' || (outage_event_id IS NOT NULL)::text FROM kaifa_events",
                as: String.self)
            #expect(row == "\(id) matched true")
            #expect(try await status("M10000311", on: client) == "off/online")

            let again = try await sync(message, on: client)
            #expect(again.duplicate == true)
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events", as: Int.self) == 1)
            let audited = try await client.scalar(
                "SELECT string_agg(source_event_id || ':' || status_field, ',') FROM oms_meter_status_events WHERE source_type = 'kaifa' AND source_event_id LIKE 'K-%'",
                as: String.self)
            #expect(audited == "\(eventID):power_status")
        }
    }

    @Test("the same event from two sessions at once: the later batch is refused whole (40001), its retry is a repeat")
    func concurrentDelivery() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await identity("M10000311", on: client).asset
            let eventID = "K-TWICE"
            let message = #"{"mRID": "K-TWICE", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\#(asset)"}"#
            let event = try #require(try KAIFADecoder.decodeBatch(Array(message.utf8)).first?.get())
            let ingestor = FeedIngestor(.kaifa, client: client, logger: TestDatabase.logger)

            try await client.withConnection { first in
                try await first.query("BEGIN", logger: TestDatabase.logger)
                try await first.query("SELECT insert_kaifa_event_from_json_with_meter_sync(\(message)::jsonb)",
                                      logger: TestDatabase.logger)
                // The second delivery starts while the first is not committed, and waits on it.
                let second = Task { try await ingestor.ingest([.success(event)]) }
                #expect(try await sessionsWaitingOnALock(running: "insert_kaifa_event_from_json_with_meter_sync", on: client) == 1)
                try await first.query("COMMIT", logger: TestDatabase.logger)
                let outcomes = try await second.value
                guard case .duplicate(let summary)? = outcomes.first else {
                    Issue.record("expected a duplicate, got \(outcomes)")
                    return
                }
                #expect(summary.statusChanges == 1)
            }
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events", as: Int.self) == 1)
            let audited = try await client.scalar(
                "SELECT string_agg(source_event_id || ':' || status_field, ',') FROM oms_meter_status_events WHERE source_type = 'kaifa' AND source_event_id LIKE 'K-%'",
                as: String.self)
            #expect(audited == "\(eventID):power_status")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_event_sources", as: Int.self) == 1)
        }
    }

    @Test("a psql user sees the concurrent delivery as a retryable refusal that wrote nothing")
    func concurrentDeliveryInSQL() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let asset = try await identity("M10000311", on: client).asset
            let eventID = "K-RACE"
            let message = #"{"mRID": "K-RACE", "createdDateTime": "\#(Self.time(60))", "eventTypeRef": "3.26.0.47", "assetMRID": "\#(asset)"}"#
            try await client.withConnection { first in
                try await first.query("BEGIN", logger: TestDatabase.logger)
                try await first.query("SELECT insert_kaifa_events_with_meter_sync(jsonb_build_array(\(message)::jsonb))",
                                      logger: TestDatabase.logger)
                let second = Task {
                    try await client.execute("SELECT insert_kaifa_events_with_meter_sync(jsonb_build_array(\(message)::jsonb))")
                }
                // Commit only once the second session is blocked on the first one.
                #expect(try await sessionsWaitingOnALock(running: "insert_kaifa_events_with_meter_sync", on: client) == 1)
                try await first.query("COMMIT", logger: TestDatabase.logger)
                do {
                    try await second.value
                    Issue.record("the second delivery was not refused")
                } catch let error as PSQLError {
                    #expect(error.serverInfo?[.sqlState] == "40001")
                    #expect(error.serverInfo?[.message]?.contains("retry the batch") == true)
                }
            }
            let audited = try await client.scalar(
                "SELECT string_agg(source_event_id || ':' || status_field, ',') FROM oms_meter_status_events WHERE source_type = 'kaifa' AND source_event_id LIKE 'K-%'",
                as: String.self)
            #expect(audited == "\(eventID):power_status")
        }
    }

    @Test("Swift and SQL refuse the same bad JSON events on the same field", arguments: [
        #"{"createdDateTime": "2025-09-30T10:00:00Z", "assetMRID": "A"}"#,
        #"{"createdDateTime": "2025-09-30T10:00:00Z", "eventTypeRef": "3.26.x.47", "assetMRID": "A"}"#,
        #"{"eventTypeRef": "3.26.0.47", "assetMRID": "A"}"#,
        #"{"createdDateTime": "2025-09-30T10:00:00Z", "eventTypeRef": "3.26.0.47"}"#,
    ])
    func swiftAndSQLAgree(message: String) async throws {
        guard case .failure(let swiftError)? = KAIFADecoder.decodeBatch(Array(message.utf8)).first else {
            Issue.record("the Swift decoder accepted \(message)")
            return
        }
        try await TestDatabase.with(.migrated) { database in
            do {
                _ = try await database.client.scalar("SELECT insert_kaifa_event_from_json(\(message)::jsonb)", as: UUID.self)
                Issue.record("SQL accepted \(message)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.columnName] == swiftError.field)
            }
        }
    }
}

/// A head-end message for the tests: SOAP, IEC 61968-100, ns2: payload.
enum KAIFADecoderSample {
    static func soap(asset: String, time: String, code: String = "3.26.136.47", mRID: String = "EV-XML-1") -> String {
        """
        <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
        <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message" xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#">
        <ns0:Header><ns0:Verb>created</ns0:Verb><ns0:Noun>EndDeviceEvents</ns0:Noun><ns0:Timestamp>\(time)</ns0:Timestamp>
        <ns0:Source>KAIFA-HES</ns0:Source><ns0:MessageID>MSG-\(mRID)</ns0:MessageID></ns0:Header>
        <ns0:Payload><ns2:EndDeviceEvents><ns2:EndDeviceEvent><ns2:mRID>\(mRID)</ns2:mRID>
        <ns2:createdDateTime>\(time)</ns2:createdDateTime><ns2:Assets><ns2:mRID>\(asset)</ns2:mRID></ns2:Assets>
        <ns2:EndDeviceEventType ref="\(code)"/></ns2:EndDeviceEvent></ns2:EndDeviceEvents></ns0:Payload>
        </ns0:CreatedEndDeviceEvents></soapenv:Body></soapenv:Envelope>
        """
    }
}
