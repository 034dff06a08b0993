import Foundation

/// The feeds a scenario speaks for, and where the service takes each.
public enum FeedKind: String, Codable, Sendable, CaseIterable {
    case scada, onu, kaifa, callcenter

    /// The service's route for this feed's messages.
    public var path: String {
        switch self {
        case .scada: "/api/v1/scada/events"
        case .onu: "/api/v1/onu/events"
        case .kaifa: "/api/v1/kaifa/events"
        case .callcenter: "/api/v1/callcenter/tickets"
        }
    }
}

/// Times as the simulated feeds write them: ISO 8601, UTC, milliseconds.
public enum SimulationTime {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// To the nearest millisecond (the formatter cuts, and 34.838 may be stored as 34.83799…).
    public static func text(_ date: Date) -> String {
        style.format(Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000 + 0.000_1))
    }

    public static func parse(_ text: String) -> Date? { try? style.parse(text) }

    /// A time rounded to the millisecond (what the messages can carry).
    static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// Writes the four feeds' messages in their real formats: SCADA JSON (the prototype's
/// envelope), ONU JSON (the OLT's alarms), KAIFA IEC 61968-9 `CreatedEndDeviceEvents`
/// (SOAP XML, or the equivalent JSON) and call-center tickets (JSON).
enum FeedMessages {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable) -> String {
        // Encoding these plain structs cannot fail.
        String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    struct Point: Encodable { var lat: Double; var lng: Double }

    // MARK: SCADA

    /// A breaker or voltage event in the prototype's envelope `{"event": {…}, "source", "received_at"}`.
    struct SCADAEnvelope: Encodable {
        struct Event: Encodable {
            var eventId: String
            var eventType: String
            var alarmType: String
            var substationId: String
            var feederId: String?
            var timestamp: String
            var voltage: Double
            var severity: String
            var reason: String?
            var coordinates: Point
        }
        var event: Event
        var source = "SCADA-Simulator"
        var received_at: String
    }

    static func scada(
        id: String, eventType: String, alarmType: String, substation: String, feeder: String?, at time: Date,
        voltage: Double, severity: String, reason: String?, latitude: Double, longitude: Double, receivedAt: Date
    ) -> String {
        json(SCADAEnvelope(
            event: .init(eventId: id, eventType: eventType, alarmType: alarmType, substationId: substation, feederId: feeder,
                         timestamp: SimulationTime.text(time), voltage: voltage, severity: severity, reason: reason,
                         coordinates: Point(lat: latitude, lng: longitude)),
            received_at: SimulationTime.text(receivedAt)))
    }

    // MARK: ONU

    /// What the OLT reports of an ONU: a dying gasp, power restored, or a loss of signal (raised / cleared).
    enum ONUAlarm {
        case dyingGasp, powerRestored, lossOfSignal, signalRecovered
    }

    struct ONUMessage: Encodable {
        struct AlarmData: Encodable { var alarmName: String; var state: String }
        var type: String
        var eventId: String
        var onuId: String
        var onuSerial: String?
        var timestamp: String
        var alarmData: AlarmData
        var location: Point
    }

    static func onu(id: String, alarm: ONUAlarm, onuID: String, serial: String?, at time: Date, latitude: Double, longitude: Double) -> String {
        let (type, name, state) = switch alarm {
        case .dyingGasp: ("ONU_LastGaspAlert", "DGi", "raised")
        case .powerRestored: ("ONU_PowerRestored", "DGi", "cleared")
        case .lossOfSignal: ("ONU_Alarm", "LOSi", "raised")
        case .signalRecovered: ("ONU_Alarm", "LOSi", "cleared")
        }
        return json(ONUMessage(type: type, eventId: id, onuId: onuID, onuSerial: serial, timestamp: SimulationTime.text(time),
                               alarmData: .init(alarmName: name, state: state), location: Point(lat: latitude, lng: longitude)))
    }

    // MARK: KAIFA

    /// One IEC 61968-9 EndDeviceEvent.
    struct KAIFAEvent: Sendable {
        var mRID: String
        var created: Date
        /// type.domain.subdomain.eventOrAction
        var typeRef: String
        var assetMRID: String
        var usagePointMRID: String?
        var reason: String
        var severity: String
    }

    /// The head-end's event types the scenarios use.
    enum KAIFACode {
        static let powerDown = "3.26.0.47"
        static let powerUp = "3.26.0.216"
        static let networkLost = "3.23.0.47"
        static let networkRestored = "3.23.0.216"
    }

    static let headEnd = "KAIFA-HES"

    /// A `CreatedEndDeviceEvents` message (IEC 61968-100 header and payload) in a SOAP envelope.
    static func kaifaXML(messageID: String, at time: Date, events: [KAIFAEvent]) -> String {
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>\
            <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message" \
            xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#"><ns0:Header><ns0:Verb>created</ns0:Verb>\
            <ns0:Noun>EndDeviceEvents</ns0:Noun><ns0:Revision>2.0</ns0:Revision>\
            <ns0:Timestamp>\(SimulationTime.text(time))</ns0:Timestamp><ns0:Source>\(headEnd)</ns0:Source>\
            <ns0:MessageID>\(messageID)</ns0:MessageID></ns0:Header><ns0:Payload><ns2:EndDeviceEvents>
            """
        for event in events {
            xml += "<ns2:EndDeviceEvent><ns2:mRID>\(event.mRID)</ns2:mRID>"
            xml += "<ns2:createdDateTime>\(SimulationTime.text(event.created))</ns2:createdDateTime>"
            xml += "<ns2:reason>\(event.reason)</ns2:reason><ns2:severity>\(event.severity)</ns2:severity>"
            xml += "<ns2:Assets><ns2:mRID>\(event.assetMRID)</ns2:mRID></ns2:Assets>"
            xml += "<ns2:EndDeviceEventType ref=\"\(event.typeRef)\"/>"
            if let point = event.usagePointMRID { xml += "<ns2:UsagePoint><ns2:mRID>\(point)</ns2:mRID></ns2:UsagePoint>" }
            xml += "</ns2:EndDeviceEvent>\n"
        }
        return xml + "</ns2:EndDeviceEvents></ns0:Payload></ns0:CreatedEndDeviceEvents></soapenv:Body></soapenv:Envelope>\n"
    }

    struct KAIFAJSON: Encodable {
        var mRID: String
        var createdDateTime: String
        var eventTypeRef: String
        var assetMRID: String
        var usagePointMRID: String?
        var reason: String
        var severity: String
        var source: String
    }

    /// The same events in the service's JSON form: one object, or an array of several.
    static func kaifaJSON(events: [KAIFAEvent]) -> String {
        let objects = events.map {
            KAIFAJSON(mRID: $0.mRID, createdDateTime: SimulationTime.text($0.created), eventTypeRef: $0.typeRef,
                      assetMRID: $0.assetMRID, usagePointMRID: $0.usagePointMRID, reason: $0.reason, severity: $0.severity,
                      source: headEnd)
        }
        return objects.count == 1 ? json(objects[0]) : json(objects)
    }

    // MARK: Call center

    struct Ticket: Encodable {
        struct Customer: Encodable {
            var phone: String
            var meterNumber: String?
            var address: String
        }
        var ticketId: String
        var timestamp: String
        var customer: Customer
        var troubleCode: String
        var notes: String
    }

    static func ticket(id: String, at time: Date, phone: String, meterNumber: String?, address: String, notes: String) -> String {
        json(Ticket(ticketId: id, timestamp: SimulationTime.text(time),
                    customer: .init(phone: phone, meterNumber: meterNumber, address: address),
                    troubleCode: "power_down", notes: notes))
    }

    /// A meter number as a customer might type it: lower case, with dashes or spaces.
    static func typedByHand(_ number: String, variant: Int) -> String {
        switch variant % 3 {
        case 0: return number.lowercased()
        case 1:
            let digits = number.dropFirst()
            return "\(number.prefix(1))-\(digits.prefix(4))-\(digits.dropFirst(4))"
        default:
            var spaced = ""
            for (index, character) in number.enumerated() {
                if index > 0 && index % 3 == 0 { spaced += " " }
                spaced.append(character)
            }
            return spaced
        }
    }
}
