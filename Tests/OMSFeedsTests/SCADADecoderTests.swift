import Foundation
import OMSFeeds
import OMSDomain
import Testing

@Suite("SCADA decoder")
struct SCADADecoderTests {
    func decode(_ text: String) -> [Result<SCADAEvent, FeedDecodingError>] {
        SCADADecoder.decodeBatch(Array(text.utf8))
    }

    func error(_ text: String) -> FeedDecodingError? {
        guard case .failure(let error)? = decode(text).first else { return nil }
        return error
    }

    static let seedMessage = """
        {
          "eventType": "breaker_trip",
          "substationId": "SS001",
          "feederId": "FD002",
          "timestamp": "2025-09-30T10:00:00Z",
          "voltage": 0.0,
          "alarmType": "fault",
          "severity": "critical"
        }
        """

    @Test("the seed's JSON")
    func seedJSON() throws {
        let event = try decode(Self.seedMessage).first!.get()
        #expect(event.eventType == "breaker_trip")
        #expect(event.substationID == "SS001")
        #expect(event.feederID == "FD002")
        #expect(event.voltage == 0)
        #expect(event.alarmType == "fault")
        #expect(event.timestamp == Date(timeIntervalSince1970: 1_759_226_400))
        #expect(event.eventID == nil)
    }

    @Test("the prototype's envelope, with mainStationId and coordinates")
    func prototypeEnvelope() throws {
        let event = try decode("""
            {"event": {"eventType": "MV_AlarmLossOfVoltage", "substationId": "SS002", "feederId": null,
                       "mainStationId": "MS01", "timestamp": "2025-09-30T13:00:00.250+03:00",
                       "alarmType": "De-energized", "severity": "Medium", "reason": "Transformer Fault",
                       "coordinates": {"lat": 24.7136, "lng": "46.6753"}},
             "source": "SCADA-Simulator", "received_at": "2025-09-30T10:00:01Z"}
            """).first!.get()
        #expect(event.eventType == "MV_AlarmLossOfVoltage")
        #expect(event.feederID == nil)
        #expect(event.mainStationID == "MS01")
        #expect(event.coordinates == .init(lat: 24.7136, lng: 46.6753))
        #expect(event.source == "SCADA-Simulator")
        #expect(event.timestamp == Date(timeIntervalSince1970: 1_759_226_400.25))
        #expect(event.message.objectValue?["source"] == .string("SCADA-Simulator"))
    }

    @Test("an array and NDJSON are batches; a blank feeder means the whole substation")
    func batches() throws {
        let array = decode("[\(Self.seedMessage), {\"eventType\": \"trip\", \"substationId\": \"SS003\", \"feederId\": \"  \", \"timestamp\": \"2025-09-30T10:05:00+00:00\"}]")
        #expect(array.count == 2)
        #expect(try array[1].get().feederID == nil)
        #expect(FeedBatch.isBatch(Array("[\(Self.seedMessage)]".utf8)))
        #expect(!FeedBatch.isBatch(Array(Self.seedMessage.utf8)))

        let ndjson = decode("""
            {"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z"}
            {"eventType": "trip", "substationId": "SS001", "timestamp": "not a time"}

            {"eventType": "trip", "substationId": "SS002", "timestamp": "2025-09-30T10:00:00Z"}
            """)
        #expect(ndjson.count == 3)
        #expect((try? ndjson[0].get()) != nil)
        guard case .failure(let bad) = ndjson[1] else { Issue.record("line 2 must be refused"); return }
        #expect(bad.index == 1)
        #expect(bad.field == "timestamp")
        #expect((try? ndjson[2].get())?.substationID == "SS002")
    }

    @Test("errors name the field and the reason", arguments: [
        (#"{"substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z"}"#, "eventType", "is required"),
        (#"{"eventType": "trip", "timestamp": "2025-09-30T10:00:00Z"}"#, "substationId", "is required"),
        (#"{"eventType": "trip", "substationId": "SS001"}"#, "timestamp", "is required"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30 10:00:00"}"#, "timestamp", "with a zone"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "yesterday"}"#, "timestamp", "ISO 8601"),
        (#"{"eventType": ["trip"], "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z"}"#, "eventType", "not an array"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "voltage": "low"}"#, "voltage", "must be a number"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": {"lat": 91, "lng": 0}}"#, "coordinates.lat", "between -90 and 90"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": {"lat": 10}}"#, "coordinates.lng", "is required"),
        (#"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": [1, 2]}"#, "coordinates", "must be a JSON object"),
    ])
    func fieldErrors(message: String, field: String, reason: String) {
        let refused = error(message)
        #expect(refused?.field == field)
        #expect(refused?.reason.contains(reason) == true, "\(String(describing: refused))")
        #expect(refused?.description.contains("field \"\(field)\"") == true)
    }

    @Test("a body that is not JSON, or not an object, is refused as a whole")
    func wholeMessage() {
        #expect(error("{\"eventType\": ") == FeedDecodingError(
            field: nil, reason: "is not valid JSON: unexpected end of file during JSON parse"))
        #expect(error("{\"eventType\": 1,, }")?.reason == "is not valid JSON: invalid value around character 16")
        #expect(error("") == FeedDecodingError(field: nil, reason: "the body is empty"))
        #expect(error("42")?.reason == "must be a JSON object, not a number")
        #expect(error("[1]")?.index == 0)
    }

    @Test("ISO 8601 times: zones, fractions, minutes only; never without a zone")
    func times() throws {
        #expect(ISO8601Time.parse("2025-09-30T10:00:00Z") == Date(timeIntervalSince1970: 1_759_226_400))
        #expect(ISO8601Time.parse("2025-09-30T13:00:00+03:00") == Date(timeIntervalSince1970: 1_759_226_400))
        #expect(ISO8601Time.parse("2025-09-30T13:00:00+0300") == Date(timeIntervalSince1970: 1_759_226_400))
        #expect(ISO8601Time.parse("2025-09-30T13:00+03") == Date(timeIntervalSince1970: 1_759_226_400))
        let fractional = try #require(ISO8601Time.parse("2025-09-30 10:00:00.123456Z"))
        #expect(abs(fractional.timeIntervalSince1970 - 1_759_226_400.123456) < 1e-6)
        #expect(ISO8601Time.parse("2025-09-30T10:00:00") == nil)
        #expect(ISO8601Time.parse("2025-13-30T10:00:00Z") == nil)
        #expect(ISO8601Time.parse("2026-02-30T10:00:00Z") == nil)
        #expect(ISO8601Time.parse("2025-09-30T10:00:00.Z") == nil)
    }
}
