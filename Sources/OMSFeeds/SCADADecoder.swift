/// Decodes SCADA messages: one object, an array, or newline-delimited JSON.
public enum SCADADecoder {
    /// Each message of a body, decoded or refused with the field and reason.
    public static func decodeBatch(_ body: [UInt8]) -> [Result<SCADAEvent, FeedDecodingError>] {
        FeedBatch.decode(body, with: decode)
    }

    /// Decodes one message.
    public static func decode(_ message: JSONValue) throws(FeedDecodingError) -> SCADAEvent {
        let envelope = try FieldReader(message)
        var eventValue = message
        var source: String?
        if case .object? = envelope.members["event"] {
            eventValue = envelope.members["event"]!
            source = try envelope.optionalText("source")
        }
        let fields = try FieldReader(eventValue)
        return SCADAEvent(
            eventID: try fields.optionalText("eventId"),
            eventType: try fields.requiredText("eventType"),
            substationID: try fields.requiredText("substationId"),
            feederID: try fields.optionalText("feederId"),
            mainStationID: try fields.optionalText("mainStationId"),
            timestamp: try fields.requiredTime("timestamp"),
            voltage: try fields.optionalNumber("voltage"),
            alarmType: try fields.optionalText("alarmType"),
            severity: try fields.optionalText("severity"),
            reason: try fields.optionalText("reason"),
            coordinates: try fields.optionalCoordinates("coordinates"),
            source: source,
            message: message
        )
    }
}
