import Foundation
@testable import OMSFeeds
import Testing

/// The bounds every JSON body meets before and after parsing: nesting depth, messages per
/// request, the NUL character, and refusals that stay short and printable whatever was sent.
@Suite("JSON bodies: depth, size, NUL, bounded refusals")
struct FeedBatchLimitsTests {
    static let ticket = #"{"ticketId": "T-1", "timestamp": "2025-09-30T10:00:00Z", "customer": {"phone": "0501234567"}}"#

    func only(_ results: [Result<JSONValue, FeedDecodingError>]) -> FeedDecodingError? {
        guard results.count == 1, case .failure(let error) = results[0] else { return nil }
        return error
    }

    @Test("every kind of JSON value parses as itself: null, booleans, numbers, strings, arrays, objects")
    func everyKind() throws {
        let text = #"{"a": null, "b": true, "c": false, "d": 1.5, "e": -2, "f": "x", "g": "", "h": [1, "y", true, null, {"i": []}], "j": {}}"#
        #expect(try JSONValue.parse(Data(text.utf8)) == .object([
            "a": .null, "b": .bool(true), "c": .bool(false), "d": .number(1.5), "e": .number(-2), "f": .string("x"),
            "g": .string(""), "h": .array([.number(1), .string("y"), .bool(true), .null, .object(["i": .array([])])]),
            "j": .object([:]),
        ]))
        #expect(try JSONValue.parse(Data("[]".utf8)) == .array([]))
        #expect(try JSONValue.parse(Data(#""1""#.utf8)) == .string("1"))
        #expect(try JSONValue.parse(Data("1".utf8)) == .number(1))
        #expect(throws: (any Error).self) { try JSONValue.parse(Data("[1,".utf8)) }
    }

    @Test("arrays and objects may nest 32 levels; 33 are refused before any parser sees them")
    func depth() {
        let deep32 = "{\"a\":" + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}"
        #expect(only(FeedBatch.split(Array(deep32.utf8))) == nil)
        let deep33 = "{\"a\":" + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}"
        #expect(only(FeedBatch.split(Array(deep33.utf8)))?.reason
                == "is not accepted: arrays and objects nest deeper than 32 levels (line 1, column 37)")
        // Brackets inside strings do not count; a million open brackets are refused at the 33rd.
        let inString = #"{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["}"#
        #expect(only(FeedBatch.split(Array(inString.utf8))) == nil)
        #expect(only(FeedBatch.split(Array(repeating: UInt8(ascii: "["), count: 1_000_000)))?.reason.contains("deeper than 32") == true)
        // The gateway's ticket, a JSON text inside a string, is measured too.
        let wrapped = #"{"message": {"request": {"body": "\#(String(repeating: "[", count: 40))"}}}"#
        let results = CallCenterDecoder.decodeBatch(Array(wrapped.utf8))
        guard case .failure(let error)? = results.first else { Issue.record("accepted"); return }
        #expect(error.field == "message.request.body")
        #expect(error.reason.contains("deeper than 32 levels"))
    }

    @Test("at most 10,000 messages per request, as an array or as NDJSON; an empty array holds none")
    func messageCount() {
        let array = "[" + Array(repeating: Self.ticket, count: 10_001).joined(separator: ",") + "]"
        #expect(only(FeedBatch.split(Array(array.utf8)))?.reason == "holds 10001 messages; at most 10000 are accepted per request")
        let lines = Array(repeating: Self.ticket, count: 10_001).joined(separator: "\n")
        #expect(only(FeedBatch.split(Array(lines.utf8)))?.reason == "holds 10001 messages; at most 10000 are accepted per request")
        let allowed = "[" + Array(repeating: Self.ticket, count: 10_000).joined(separator: ",") + "]"
        #expect(FeedBatch.split(Array(allowed.utf8)).count == 10_000)
        #expect(only(FeedBatch.split(Array("[]".utf8)))?.reason == "holds no message (an empty array)")
    }

    @Test("the NUL character, which PostgreSQL cannot store, is refused naming the field")
    func nul() {
        let inField = #"{"ticketId": "T-1\u0000", "timestamp": "2025-09-30T10:00:00Z", "customer": {"phone": "1"}}"#
        #expect(only(FeedBatch.split(Array(inField.utf8)))?.field == "ticketId")
        let nested = #"{"customer": {"notes": ["ok", "bad\u0000"]}}"#
        #expect(only(FeedBatch.split(Array(nested.utf8)))?.field == "customer.notes[1]")
        let batch = FeedBatch.split(Array("[\(Self.ticket), {\"a\": \"\\u0000\"}]".utf8))
        #expect(batch.count == 2)
        guard case .failure(let error) = batch[1] else { Issue.record("accepted"); return }
        #expect(error.index == 1 && error.field == "a")
        let gateway = #"{"message": {"request": {"body": "{\"ticketId\": \"T\\u0000\"}"}}}"#
        guard case .failure(let inner)? = CallCenterDecoder.decodeBatch(Array(gateway.utf8)).first else { Issue.record("accepted"); return }
        #expect(inner.field == "message.request.body.ticketId")
    }

    @Test("refusals quote what was sent, but never more than a few hundred printable characters")
    func boundedRefusals() {
        let huge = String(repeating: "x", count: 1_000_000)
        let message = #"{"ticketId": "T", "timestamp": "\#(huge)", "customer": {"phone": "1"}}"#
        guard case .failure(let error)? = CallCenterDecoder.decodeBatch(Array(message.utf8)).first else { Issue.record("accepted"); return }
        #expect(error.field == "timestamp")
        #expect(error.description.count <= FeedDecodingError.maximumDescriptionLength)
        #expect(error.description.hasSuffix("…"))
        let control = FeedDecodingError(field: "a\nb", reason: "not \"x\u{1B}[31m\r\ny\"")
        #expect(control.description == "field \"a\\u{a}b\" not \"x\\u{1b}[31m\\u{d}\\u{a}y\"")
    }
}
