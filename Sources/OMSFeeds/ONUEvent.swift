import Foundation
import OMSDomain

/// An ONU alarm as the OLT side sends it:
/// `{"type": "ONU_LastGaspAlert" | "ONU_PowerRestored" | "ONU_Alarm", "eventId", "onuId", "onuSerial",
/// "timestamp", "alarmData": {"alarmName": "DGi" | "LOSi" | …, "state": "raised" | "cleared"},
/// "location": {"lat", "lng"}}`. Which premises lost power is decided in the database
/// (`oms_onu_event_kind`): a dying gasp is a power loss, a loss of signal only a communication fault.
public struct ONUEvent: Sendable, Equatable {
    public var eventID: String?
    public var type: String
    public var onuID: String?
    public var onuSerial: ONUSerialNumber?
    public var timestamp: Date
    /// The OLT's alarm name (DGi, LOSi, …), if the message carries one.
    public var alarmName: String?
    /// "raised" or "cleared", if given.
    public var alarmState: String?
    public var location: Coordinates?
    /// The message as received: what is stored as `raw`.
    public var message: JSONValue
}

/// A point on the map, from a feed message.
public struct Coordinates: Sendable, Equatable {
    public var lat: Double
    public var lng: Double

    public init(lat: Double, lng: Double) {
        self.lat = lat
        self.lng = lng
    }
}

/// Decodes ONU messages: one object, an array, or newline-delimited JSON.
public enum ONUDecoder {
    public static func decodeBatch(_ body: [UInt8]) -> [Result<ONUEvent, FeedDecodingError>] {
        FeedBatch.decode(body, with: decode)
    }

    public static func decode(_ message: JSONValue) throws(FeedDecodingError) -> ONUEvent {
        let fields = try FieldReader(message)
        let onuID = try fields.optionalText("onuId")
        let serialText = try fields.optionalText("onuSerial")
        guard onuID != nil || serialText != nil else {
            throw FeedDecodingError(field: "onuId", reason: "or \"onuSerial\" is required")
        }
        var serial: ONUSerialNumber?
        if let serialText {
            guard let parsed = ONUSerialNumber(serialText) else {
                throw FeedDecodingError(
                    field: "onuSerial",
                    reason: "must be 4 letters of vendor id and 8 hex digits (HWTC1A2B3C4D), not \"\(serialText)\"")
            }
            serial = parsed
        }
        var alarmName: String?
        var alarmState: String?
        if let alarm = try fields.optionalObject("alarmData") {
            alarmName = try alarm.optionalText("alarmName")
            if alarmName == nil { alarmName = try alarm.optionalText("alarm") }
            if alarmName == nil { alarmName = try alarm.optionalText("name") }
            alarmState = try alarm.optionalText("state")
            if alarmState == nil { alarmState = try alarm.optionalText("status") }
        }
        return ONUEvent(
            eventID: try fields.optionalText("eventId"),
            type: try fields.requiredText("type"),
            onuID: onuID,
            onuSerial: serial,
            timestamp: try fields.requiredTime("timestamp"),
            alarmName: alarmName,
            alarmState: alarmState,
            location: try fields.optionalCoordinates("location"),
            message: message)
    }
}
