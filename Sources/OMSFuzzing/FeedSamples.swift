import Foundation
import OMSSimulation

/// Real messages of each feed, in every form the service takes them (one object, an array,
/// NDJSON; KAIFA as SOAP XML, plain XML and JSON; call-center tickets as sent and as the
/// prototype's gateway wrapped them): the seeds the fuzzer mutates.
public enum FeedSamples {
    /// The samples of one feed, as the bytes a client would post.
    public static func samples(for feed: FeedKind) -> [[UInt8]] {
        texts(for: feed).map { Array($0.utf8) }
    }

    static func texts(for feed: FeedKind) -> [String] {
        switch feed {
        case .scada: scada
        case .onu: onu
        case .kaifa: kaifa
        case .callcenter: callCenter
        }
    }

    static let scadaSeed = #"""
        {"eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "timestamp": "2025-09-30T10:00:00Z", "voltage": 0, "alarmType": "trip", "severity": "high", "reason": "Overcurrent"}
        """#
    static let scadaEnvelope = #"""
        {"event": {"eventId": "EV-FD002-1", "eventType": "MV_AlarmLossOfVoltage", "alarmType": "De-energized", "mainStationId": "MS01", "substationId": "SS001", "feederId": null, "timestamp": "2025-09-30T13:00:00.250+03:00", "voltage": 0.0, "severity": "Medium", "reason": "Transformer Fault", "coordinates": {"lat": 24.7136, "lng": 46.6753}}, "source": "SCADA-Simulator", "received_at": "2025-09-30T10:00:01Z"}
        """#
    static let scada = [
        scadaSeed,
        scadaEnvelope,
        "[" + scadaSeed + ",\n" + scadaEnvelope + "]",
        scadaSeed.replacingOccurrences(of: "\n", with: " ") + "\n" + scadaEnvelope.replacingOccurrences(of: "\n", with: " ") + "\n",
    ]

    static let onuGasp = #"""
        {"type": "ONU_LastGaspAlert", "eventId": "ONU-EV-1", "onuId": "0/1/2:17", "onuSerial": "HWTC1A2B3C4D", "timestamp": "2025-09-30T10:00:01.500Z", "alarmData": {"alarmName": "DGi", "state": "raised"}, "location": {"lat": 24.71, "lng": 46.67}}
        """#
    static let onuRestored = #"""
        {"type": "ONU_PowerRestored", "eventId": "ONU-EV-2", "onuSerial": "ZTEG00ABCDEF", "timestamp": "2025-09-30T11:00:00Z", "alarmData": {"alarmName": "DGi", "state": "cleared"}}
        """#
    static let onuSignal = #"""
        {"type": "ONU_Alarm", "eventId": "ONU-EV-3", "onuId": "ONU-17", "timestamp": "2025-09-30T10:05:00+03:00", "alarmData": {"alarm": "LOSi", "status": "raised"}}
        """#
    static let onu = [
        onuGasp, onuRestored, onuSignal,
        "[" + [onuGasp, onuRestored, onuSignal].joined(separator: ",") + "]",
        [onuGasp, onuRestored, onuSignal].joined(separator: "\n"),
    ]

    static let kaifaSOAP = #"""
        <?xml version="1.0" encoding="UTF-8"?>
        <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
          <soapenv:Header/>
          <soapenv:Body>
            <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message" xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#">
              <ns0:Header>
                <ns0:Verb>created</ns0:Verb><ns0:Noun>EndDeviceEvents</ns0:Noun><ns0:Revision>2.0</ns0:Revision>
                <ns0:Timestamp>2025-09-30T10:00:05Z</ns0:Timestamp><ns0:Source>KAIFA-HES</ns0:Source><ns0:MessageID>MSG-0001</ns0:MessageID>
              </ns0:Header>
              <ns0:Payload>
                <ns2:EndDeviceEvents>
                  <ns2:EndDeviceEvent>
                    <ns2:mRID>EV-1</ns2:mRID>
                    <ns2:createdDateTime>2025-09-30T10:00:02Z</ns2:createdDateTime>
                    <ns2:reason>Power down &amp; last gasp</ns2:reason>
                    <ns2:severity>high</ns2:severity>
                    <ns2:Assets><ns2:mRID>ASSET-1</ns2:mRID></ns2:Assets>
                    <ns2:EndDeviceEventDetails><ns2:name>phase</ns2:name><ns2:value><![CDATA[A]]></ns2:value></ns2:EndDeviceEventDetails>
                    <ns2:EndDeviceEventType ref="3.26.136.47"/>
                    <ns2:Names><ns2:name>M1000001</ns2:name></ns2:Names>
                    <ns2:status><ns2:dateTime>2025-09-30T10:00:02Z</ns2:dateTime><ns2:value>active</ns2:value></ns2:status>
                    <ns2:UsagePoint><ns2:mRID>UP-1</ns2:mRID></ns2:UsagePoint>
                  </ns2:EndDeviceEvent>
                  <!-- the head-end groups two seconds of events -->
                  <ns2:EndDeviceEvent>
                    <ns2:mRID>EV-2</ns2:mRID>
                    <ns2:createdDateTime>2025-09-30T10:45:00+03:00</ns2:createdDateTime>
                    <ns2:UsagePoint><ns2:mRID>UP-2</ns2:mRID></ns2:UsagePoint>
                    <ns2:EndDeviceEventType ref='3.26.0.216'/>
                  </ns2:EndDeviceEvent>
                </ns2:EndDeviceEvents>
              </ns0:Payload>
            </ns0:CreatedEndDeviceEvents>
          </soapenv:Body>
        </soapenv:Envelope>
        """#
    static let kaifaPlain = #"""
        <CreatedEndDeviceEvents><Header><Verb>created</Verb><Noun>EndDeviceEvents</Noun><Source>KAIFA-HES</Source></Header><Payload><EndDeviceEvents><EndDeviceEvent><mRID>EV-3</mRID><createdDateTime>2025-09-30T10:00:00Z</createdDateTime><Assets><mRID>ASSET-3</mRID></Assets><EndDeviceEventType ref="3.26.0.47"/></EndDeviceEvent></EndDeviceEvents></Payload></CreatedEndDeviceEvents>
        """#
    static let kaifaJSON = #"""
        {"mRID": "EV-4", "createdDateTime": "2025-09-30T10:00:00Z", "eventTypeRef": "3.26.0.47", "assetMRID": "ASSET-4", "usagePointMRID": "UP-4", "reason": "Power down", "severity": "high", "source": "KAIFA-HES"}
        """#
    static let kaifaCIMJSON = #"""
        [{"mRID": "EV-5", "createdDateTime": "2025-09-30T10:00:00Z", "EndDeviceEventType": {"ref": "3.26.0.216"}, "Assets": {"mRID": "ASSET-5"}, "UsagePoint": {"mRID": "UP-5"}, "header": {"source": "KAIFA-HES", "messageID": "M-5"}}, {"mRID": "EV-6", "createdDateTime": "2025-09-30T10:00:01Z", "eventTypeRef": "3.23.0.47", "meterNumber": "M1000006"}]
        """#
    static let kaifa = [kaifaSOAP, kaifaPlain, kaifaJSON, kaifaCIMJSON]

    static let ticket = #"""
        {"ticketId": "TT-1001", "timestamp": "2025-09-30T10:12:00Z", "customer": {"phone": "+966 50 123 4567", "meterNumber": "m-100-0001", "address": "12 King Fahd Rd", "customerId": "C0001"}, "troubleCode": "power_down", "notes": "No power since 10:00"}
        """#
    static let ticketPhoneOnly = #"""
        {"ticketId": "TT-1002", "timestamp": "2025-09-30T10:15:00+03:00", "customer": {"phone": "0501234567"}, "notes": "flickering lights"}
        """#
    static let gatewayTicket = #"""
        {"message": {"request": {"method": "POST", "body": "{\"ticketId\": \"TT-1003\", \"timestamp\": \"2025-09-30T10:20:00Z\", \"customer\": {\"phone\": \"0509876543\", \"meterNumber\": \"M1000003\", \"address\": \"5 Olaya St\"}, \"notes\": \"wire down\"}"}}}
        """#
    static let callCenter = [
        ticket, ticketPhoneOnly, gatewayTicket,
        "[" + [ticket, ticketPhoneOnly, gatewayTicket].joined(separator: ",") + "]",
        [ticket, ticketPhoneOnly].joined(separator: "\n"),
    ]
}
