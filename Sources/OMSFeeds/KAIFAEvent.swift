import Foundation

/// One IEC 61968-9 EndDeviceEvent from the KAIFA head-end, from its
/// `CreatedEndDeviceEvents` message (IEC 61968-100 Header + Payload, inside or
/// outside a SOAP envelope, any namespace prefixes) or from the equivalent JSON.
/// What the event type code means is decided in the database (`kaifa_event_types`).
public struct KAIFAEvent: Sendable, Equatable {
    public var mRID: String?
    public var createdDateTime: Date
    /// `EndDeviceEventType@ref`: type.domain.subdomain.eventOrAction, e.g. 3.26.0.47.
    public var eventTypeRef: String
    public var assetMRID: String?
    public var usagePointMRID: String?
    public var meterNumber: String?
    public var reason: String?
    public var severity: String?
    /// The head-end (`Header/Source`).
    public var source: String?
    /// The event as canonical JSON (the XML element kept under `rawXML`): what the database stores.
    public var message: JSONValue
}
