import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("Call-center feed: loose meter numbers, customers, phones, outage evidence")
struct CallCenterFeedTests {
    func link(_ message: String, on client: PostgresClient) async throws -> MeterSyncSummary {
        let json = try await client.scalar(
            "SELECT insert_callcenter_ticket_from_json_with_meter_link(\(message)::jsonb)::text", as: String.self)
        return try JSONDecoder().decode(MeterSyncSummary.self, from: Data(json.utf8))
    }

    func ticket(_ id: String, customer: String, code: String? = nil) -> String {
        let now = ISO8601DateFormatter().string(from: Date().addingTimeInterval(60))
        let trouble = code.map { ", \"troubleCode\": \"\($0)\"" } ?? ""
        return #"{"ticketId": "\#(id)", "timestamp": "\#(now)", "customer": {\#(customer)}\#(trouble)}"#
    }

    func matchedBy(_ id: String, on client: PostgresClient) async throws -> String? {
        try await client.scalar("SELECT matched_by FROM callcenter_tickets WHERE ticket_id = \(id)", as: String?.self)
    }

    @Test("meter numbers as customers type them; leading zeros per setting")
    func meterNumbers() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute(
                "UPDATE oms_meters SET meter_number = 'M00012345' WHERE meter_number = 'M10000310'")
            let loose = try await link(ticket("T1", customer: #""meterNumber": " m-1000 0305 ""#), on: client)
            #expect(loose.meterNumbers == ["M10000305"])
            let zeros = try await link(ticket("T2", customer: #""meterNumber": "M12345""#), on: client)
            #expect(zeros.meterNumbers == ["M00012345"])
            #expect(try await matchedBy("T2", on: client) == "meter_number")

            try await client.execute("UPDATE oms_settings SET value = 'false' WHERE key = 'call_center.strip_leading_zeros'")
            let strict = try await link(ticket("T3", customer: #""meterNumber": "M12345""#), on: client)
            #expect(strict.matchStatus == "unmatched")
        }
    }

    @Test("else the customer id, else the phone; unknown callers are kept and reported")
    func customers() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let byID = try await link(ticket("T1", customer: #""customerId": "C0000306", "meterNumber": "NOPE""#), on: client)
            #expect(byID.meterNumbers == ["M10000306"])
            #expect(try await matchedBy("T1", on: client) == "customer_id")
            let byPhone = try await link(ticket("T2", customer: #""phone": "+1 (215) 555-0307""#), on: client)
            #expect(byPhone.meterNumbers == ["M10000307"])
            #expect(try await matchedBy("T2", on: client) == "phone")
            let unknown = try await link(ticket("T3", customer: #""phone": "999-000-0000""#), on: client)
            #expect(unknown.matchStatus == "unmatched")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_unmatched_feed_events WHERE source_type = 'call_center'", as: Int.self) == 1)
        }
    }

    @Test("a phone several customers share matches none of them: the call stays unmatched, for an operator")
    func sharedPhone() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute(
                "UPDATE oms_customers SET phone = '+1-215-555-0307' WHERE customer_id = 'C0000308'")
            let shared = try await link(ticket("T1", customer: #""phone": "+1 (215) 555-0307""#), on: client)
            #expect(shared.matchStatus == "unmatched")
            #expect(shared.outageEventIDs.isEmpty)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_events", as: Int.self) == 0)
            // The same phone is still matched when it is one customer's.
            try await client.execute("UPDATE oms_customers SET phone = '+1-215-555-9999' WHERE customer_id = 'C0000308'")
            let single = try await link(ticket("T2", customer: #""phone": "+1 (215) 555-0307""#), on: client)
            #expect(single.meterNumbers == ["M10000307"])
        }
    }

    @Test("a call is outage evidence, not a status change; non-outage codes are recorded only; a repeat adds nothing")
    func evidence() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let call = try await link(ticket("T1", customer: #""meterNumber": "M10000305""#, code: "Power Down"), on: client)
            #expect(call.kind == "call")
            #expect(call.statusChanges == 0)
            #expect(call.outagesOpened == 1)
            #expect(try await client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M10000305'", as: String.self) == "on")
            #expect(try await client.scalar(
                "SELECT confidence_score::text FROM oms_outage_events", as: String.self) == "0.500")
            let repeated = try await link(ticket("T1", customer: #""meterNumber": "M10000305""#, code: "Power Down"), on: client)
            #expect(repeated.duplicate == true)
            #expect(try await client.scalar(
                "SELECT confidence_score::text FROM oms_outage_events", as: String.self) == "0.500")
            let flicker = try await link(ticket("T2", customer: #""meterNumber": "M10000306""#, code: "flickering-lights"), on: client)
            #expect(flicker.kind == "none")
            #expect(flicker.outageEventIDs.isEmpty)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_events", as: Int.self) == 1)
        }
    }

    @Test("a batch of tickets is correlated together: one result each, in order; a ticket repeated in the batch answers with its first result; the outages are those of the tickets one by one")
    func batch() async throws {
        let tickets = [
            ticket("B1", customer: #""meterNumber": "M10000305""#, code: "Power Down"),
            ticket("B2", customer: #""meterNumber": "M10000306""#, code: "Power Down"),
            ticket("B1", customer: #""meterNumber": "M10000305""#, code: "Power Down"),
            ticket("B3", customer: #""meterNumber": "M99999999""#),
            ticket("B4", customer: #""meterNumber": "M10000405""#, code: "flickering-lights"),
        ]
        /// Each ticket's outage (by its event code) and every outage's status and confidence.
        @Sendable func outages(_ client: PostgresClient) async throws -> String {
            try await client.scalar(
                """
                SELECT coalesce(string_agg(t.ticket_id || '->' || coalesce(o.event_id, '-'), ', ' ORDER BY t.ticket_id), '')
                       || ' | ' || (SELECT string_agg(x.status || ' ' || x.confidence_score, ', ' ORDER BY x.event_id)
                                      FROM oms_outage_events x)
                  FROM callcenter_tickets t LEFT JOIN oms_outage_events o ON o.id = t.outage_event_id
                """, as: String.self)
        }
        let oneByOne = try await TestDatabase.with(.sampleNetwork) { database in
            for message in tickets { _ = try await link(message, on: database.client) }
            return try await outages(database.client)
        }
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let json = try await client.scalar(
                "SELECT insert_callcenter_tickets_with_meter_link(\("[" + tickets.joined(separator: ",") + "]")::jsonb)::text",
                as: String.self)
            let results = try JSONDecoder().decode([MeterSyncSummary].self, from: Data(json.utf8))
            #expect(results.count == 5)
            guard results.count == 5 else { return }
            #expect(results.map(\.kind) == ["call", "call", "call", "call", "none"])
            #expect(results.map(\.matchStatus) == ["matched", "matched", "matched", "unmatched", "matched"])
            #expect(results.map { $0.duplicate ?? false } == [false, false, true, false, false])
            #expect(results[2].eventID == results[0].eventID)
            #expect(results[2].outageEventIDs == results[0].outageEventIDs && !results[0].outageEventIDs.isEmpty)
            #expect(results[1].outageEventIDs.count == 1 && results[3].outageEventIDs.isEmpty && results[4].outageEventIDs.isEmpty)
            #expect(try await client.scalar("SELECT count(*)::int FROM callcenter_tickets WHERE sync_result IS NOT NULL",
                                             as: Int.self) == 4)
            #expect(try await outages(client) == oneByOne)

            // Three more calls in one batch: one correlation for all of them, not one each.
            let more = ["B5", "B6", "B7"].enumerated().map { index, id in
                ticket(id, customer: "\"meterNumber\": \"M1000050\(index + 5)\"", code: "Power Down")
            }
            let counted = try await database.psql(
                """
                SET track_functions = 'pl';
                DO $$ BEGIN PERFORM insert_callcenter_tickets_with_meter_link('[\(more.joined(separator: ","))]'); END $$;
                SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'oms_link_feed_evidence'
                """)
            #expect(counted.int("calls") == 1)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM callcenter_tickets WHERE ticket_id IN ('B5', 'B6', 'B7') AND outage_event_id IS NOT NULL",
                as: Int.self) == 3)
        }
    }

    @Test("Swift and SQL refuse the same bad tickets on the same field", arguments: [
        #"{"timestamp": "2025-09-30T10:00:00Z", "customer": {"phone": "1"}}"#,
        #"{"ticketId": "T", "customer": {"phone": "1"}}"#,
        #"{"ticketId": "T", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"ticketId": "T", "timestamp": "2025-09-30T10:00:00Z", "customer": {"address": "x"}}"#,
        #"{"message": {"request": {"body": "{not json"}}}"#,
    ])
    func swiftAndSQLAgree(message: String) async throws {
        guard case .failure(let swiftError)? = CallCenterDecoder.decodeBatch(Array(message.utf8)).first else {
            Issue.record("the Swift decoder accepted \(message)")
            return
        }
        try await TestDatabase.with(.migrated) { database in
            do {
                _ = try await database.client.scalar(
                    "SELECT insert_callcenter_ticket_from_json(\(message)::jsonb)", as: UUID.self)
                Issue.record("SQL accepted \(message)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.columnName] == swiftError.field)
            }
        }
    }
}
