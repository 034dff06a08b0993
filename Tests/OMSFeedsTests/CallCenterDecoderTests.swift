import Foundation
import OMSFeeds
import Testing

@Suite("Call-center decoder")
struct CallCenterDecoderTests {
    func decode(_ text: String) -> [Result<CallCenterTicket, FeedDecodingError>] {
        CallCenterDecoder.decodeBatch(Array(text.utf8))
    }

    @Test("a ticket, and the gateway's wrapping of it")
    func tickets() throws {
        let plain = try decode("""
            {"ticketId": "CC-1001", "timestamp": "2025-09-30T10:07:00Z", "customer": {"phone": "(215) 555-0305", "meterNumber": "m 1000-0305", "address": "305 Market Street"}, "troubleCode": "power_down", "notes": "No lights since 10:00"}
            """).first!.get()
        #expect(plain.ticketID == "CC-1001")
        #expect(plain.meterNumber == "m 1000-0305")
        #expect(plain.troubleCode == "power_down")
        let inner = #"{\"ticketId\": \"CC-1002\", \"timestamp\": \"2025-09-30T10:08:00Z\", \"customer\": {\"phone\": \"+1 215 555 0306\", \"customerId\": \"C0000306\"}}"#
        let wrapped = try decode(#"{"message": {"request": {"method": "POST", "body": "\#(inner)"}}}"#).first!.get()
        #expect(wrapped.ticketID == "CC-1002")
        #expect(wrapped.customerID == "C0000306")
        #expect(wrapped.message.objectValue?["message"] != nil)
    }

    @Test("errors name the field", arguments: [
        (#"{"timestamp": "2025-09-30T10:00:00Z", "customer": {"phone": "1"}}"#, "ticketId", "is required"),
        (#"{"ticketId": "T", "customer": {"phone": "1"}}"#, "timestamp", "is required"),
        (#"{"ticketId": "T", "timestamp": "2025-09-30T10:00:00Z"}"#, "customer", "must be an object"),
        (#"{"ticketId": "T", "timestamp": "2025-09-30T10:00:00Z", "customer": {"address": "x"}}"#, "customer", "needs"),
        (#"{"message": {"request": {"body": "{not json"}}}"#, "message.request.body", "not valid JSON"),
    ])
    func fieldErrors(message: String, field: String, reason: String) {
        guard case .failure(let error)? = decode(message).first else {
            Issue.record("accepted \(message)")
            return
        }
        #expect(error.field == field)
        #expect(error.reason.contains(reason), "\(error)")
    }
}
