import OMSDomain

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
