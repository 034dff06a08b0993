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
