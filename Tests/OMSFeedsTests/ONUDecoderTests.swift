import Foundation
import OMSDomain
import OMSFeeds
import Testing

@Suite("ONU decoder")
struct ONUDecoderTests {
    func decode(_ text: String) -> [Result<ONUEvent, FeedDecodingError>] {
        ONUDecoder.decodeBatch(Array(text.utf8))
    }

    @Test("the OLT side's last gasp, restore and alarm messages")
    func validMessages() throws {
        let batch = decode("""
            {"type": "ONU_LastGaspAlert", "eventId": "OLT7-1", "onuId": "ONU-000001", "onuSerial": "HWTC1A2B3C4D", "timestamp": "2025-09-30T10:00:02Z", "alarmData": {"alarmName": "DGi", "frame": 0, "slot": 3, "port": 7, "ontId": 12}, "location": {"lat": 39.95, "lng": -75.16}}
            {"type": "ONU_PowerRestored", "eventId": "OLT7-2", "onuSerial": "zteg0000beef", "timestamp": "2025-09-30T11:00:00+02:00"}
            {"type": "ONU_Alarm", "onuId": "ONU-000002", "timestamp": "2025-09-30T10:00:03Z", "alarmData": {"alarm": "LOSi", "state": "cleared"}}
            """)
        let gasp = try batch[0].get()
        #expect(gasp.type == "ONU_LastGaspAlert")
        #expect(gasp.onuSerial?.rawValue == "HWTC1A2B3C4D")
        #expect(gasp.alarmName == "DGi")
        #expect(gasp.location == Coordinates(lat: 39.95, lng: -75.16))
        let restore = try batch[1].get()
        #expect(restore.onuSerial?.rawValue == "ZTEG0000BEEF")
        #expect(restore.onuID == nil)
        let alarm = try batch[2].get()
        #expect(alarm.alarmName == "LOSi" && alarm.alarmState == "cleared")
        #expect(alarm.eventID == nil)
    }

    @Test("errors name the field", arguments: [
        (#"{"onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z"}"#, "type", "is required"),
        (#"{"type": "ONU_LastGaspAlert", "timestamp": "2025-09-30T10:00:00Z"}"#, "onuId", "\"onuSerial\" is required"),
        (#"{"type": "ONU_LastGaspAlert", "onuSerial": "HWTC1A2B3C4", "timestamp": "2025-09-30T10:00:00Z"}"#, "onuSerial", "8 hex digits"),
        (#"{"type": "ONU_LastGaspAlert", "onuSerial": "HW1C1A2B3C4D", "timestamp": "2025-09-30T10:00:00Z"}"#, "onuSerial", "4 letters"),
        (#"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1"}"#, "timestamp", "is required"),
        (#"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z", "alarmData": "DGi"}"#, "alarmData", "must be a JSON object"),
        (#"{"type": "ONU_LastGaspAlert", "onuId": "ONU-1", "timestamp": "2025-09-30T10:00:00Z", "location": {"lat": 1}}"#, "location.lng", "is required"),
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
