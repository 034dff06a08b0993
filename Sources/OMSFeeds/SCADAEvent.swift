import Foundation

/// A SCADA breaker or alarm event, as the seed's JSON describes it
/// (`eventType, substationId, feederId, timestamp, voltage, alarmType, severity, reason`),
/// plus what the prototype's SCADA side adds (`mainStationId`, `coordinates {lat, lng}`,
/// an optional `eventId`), possibly inside the envelope
/// `{"event": {…}, "source": "SCADA-Simulator", "received_at": …}`.
public struct SCADAEvent: Sendable, Equatable {
    /// The feed's own id, when it sends one (repeat deliveries share it).
    public var eventID: String?
    public var eventType: String
    public var substationID: String
    /// nil: the event concerns the whole substation.
    public var feederID: String?
    public var mainStationID: String?
    public var timestamp: Date
    public var voltage: Double?
    public var alarmType: String?
    public var severity: String?
    public var reason: String?
    public var coordinates: Coordinates?
    /// The envelope's `source`, if any.
    public var source: String?
    /// The message as received (envelope included): what is stored as `raw`.
    public var message: JSONValue
}

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
