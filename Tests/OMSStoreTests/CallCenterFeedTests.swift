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
