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
